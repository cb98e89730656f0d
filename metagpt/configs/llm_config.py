"""`LLMConfig` and `LLMType`: MetaGPT 0.7-0.8's `config.llm`, as a view onto `Config`.

Reading `config.llm.model` reads `Config.openai_api_model`; assigning `config.llm.model = ...`
validates the value and writes it into that one `Config` object (each `Config.default()` is a
fresh object, so nothing is shared between companies).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from metagpt.config import Config

LLM_FIELDS = {
    "api_type": "api_type",
    "api_key": "openai_api_key",
    "base_url": "openai_base_url",
    "api_version": "openai_api_version",
    "model": "openai_api_model",
    "max_token": "max_tokens",
    "temperature": "temperature",
    "timeout": "timeout",
}
"""MetaGPT's `llm:` keys and the `Config` fields they are."""
OPENAI_BASE_URL = "https://api.openai.com/v1"
"""What `base_url` reads when none is configured (the OpenAI provider's default)."""


class LLMType(str, Enum):
    """The providers this package has (MetaGPT lists more; those run through `OPENAI`'s base_url)."""

    OPENAI = "openai"
    AZURE = "azure"
    LOCAL = "local"
    FAKE = "fake"


def set_field(config: Config, name: str, value: Any) -> None:
    """Write one validated field into a (frozen) `Config` in place: the view's only write."""
    if isinstance(value, Enum):
        value = value.value
    checked = type(config).model_validate({**config.model_dump(), name: value})
    object.__setattr__(config, name, getattr(checked, name))
    config.__pydantic_fields_set__.add(name)


class LLMConfig:
    """`config.llm`: `api_type`, `api_key`, `base_url`, `api_version`, `model`, `max_token`, ...

    `LLMConfig(model=..., api_key=..., base_url=...)` builds a `Config` of its own (`.config`).
    """

    def __init__(self, config: Config | None = None, **values: Any):
        unknown = set(values) - set(LLM_FIELDS)
        if unknown:
            raise TypeError(f"LLMConfig got unexpected keys {sorted(unknown)}; it accepts: {', '.join(LLM_FIELDS)}")
        if config is None:
            config = Config(**{LLM_FIELDS[k]: v.value if isinstance(v, Enum) else v for k, v in values.items()})
            values = {}
        object.__setattr__(self, "config", config)
        for key, value in values.items():
            setattr(self, key, value)

    def __getattr__(self, key: str) -> Any:
        if key not in LLM_FIELDS:
            raise AttributeError(f"LLMConfig has no {key!r}; it has: {', '.join(LLM_FIELDS)}")
        if key == "api_type":
            return LLMType(self.config.resolved_api_type)
        value = getattr(self.config, LLM_FIELDS[key])
        return OPENAI_BASE_URL if key == "base_url" and value is None else value

    def __setattr__(self, key: str, value: Any) -> None:
        if key not in LLM_FIELDS:
            raise AttributeError(f"LLMConfig has no {key!r}; it has: {', '.join(LLM_FIELDS)}")
        set_field(self.config, LLM_FIELDS[key], value)

    def model_dump(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in LLM_FIELDS}

    def __repr__(self) -> str:
        shown = {k: ("(hidden)" if k == "api_key" and v else v) for k, v in self.model_dump().items()}
        return f"LLMConfig({shown})"
