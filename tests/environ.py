"""The environment a process started by a test gets: none of the caller's MetaGPT settings."""

from __future__ import annotations

import os

from metagpt.config import Config

SETTINGS_ENV = (*Config.field_aliases(), "METAGPT_ROOT")
"""Variables that configure MetaGPT (every setting's name, and where the config folder is)."""


def settings_free_environ() -> dict[str, str]:
    """This process's environment without `SETTINGS_ENV`: a CLI started with it (plus what the
    test adds) reads only the settings the test gives it."""
    return {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
