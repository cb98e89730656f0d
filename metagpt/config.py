"""`metagpt.config`: the settings (`Config`, defined in `metagpt.configs.settings`) and 0.1-0.6's `CONFIG`.

Every setting, its sources and their precedence live in `metagpt/configs/`; this module is the
name MetaGPT scripts import them by.
"""

from __future__ import annotations

from typing import Any

from metagpt.configs.settings import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    SECRET_FIELDS,
    ApiType,
    Config,
    EditFormat,
    EmbeddingType,
    MermaidEngine,
    ModelPrice,
    SandboxMode,
    SearchEngineName,
    check_sendable_text,
    config_error,
    redact_key,
)
from metagpt.utils.sendable import unsendable, url_problem

__all__ = [
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "SECRET_FIELDS",
    "ApiType",
    "Config",
    "EditFormat",
    "EmbeddingType",
    "MermaidEngine",
    "ModelPrice",
    "SandboxMode",
    "SearchEngineName",
    "check_sendable_text",
    "config_error",
    "redact_key",
    "unsendable",
    "url_problem",
]


def __getattr__(name: str) -> Any:
    """`CONFIG` of MetaGPT 0.1-0.6: a view loading the default configuration on first use."""
    if name == "CONFIG":
        from metagpt.legacy_config import LegacyConfig

        return LegacyConfig(Config.default)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
