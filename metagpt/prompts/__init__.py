"""Prompt templates, kept as package data (`*.md` beside this file)."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def load_prompt(name: str) -> str:
    """The text of `prompts/<name>.md`."""
    return resources.files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")


def render_prompt(template: str, /, **values: str) -> str:
    """`prompts/<template>.md` with its `{placeholders}` filled."""
    return load_prompt(template).format(**values)
