"""MetaGPT 0.7-0.8's `metagpt.config2`: `Config` (see `metagpt.configs.metagpt_config`) and `config`.

`config` is loaded when first read, never at import: `from metagpt.config2 import config` reads
the configuration of the current directory then.
"""

from __future__ import annotations

from typing import Any

from metagpt.configs.metagpt_config import MetaGPTConfig as Config

__all__ = ["Config"]


def __getattr__(name: str) -> Any:
    if name == "config":
        return Config.default()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
