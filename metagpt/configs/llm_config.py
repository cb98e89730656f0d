"""`LLMConfig` and `LLMType`: MetaGPT 0.7-0.8's `config.llm`, as a view onto `Config`.

Reading `config.llm.model` reads `Config.openai_api_model`; assigning `config.llm.model = ...`
validates the value and writes it into that one `Config` object (each `Config.default()` is a
fresh object, so nothing is shared between companies).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from metagpt.configs.settings import Config

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
    """The providers this package has (`metagpt.configs.catalogue`), by MetaGPT's names."""

    OPENAI = "openai"
    AZURE = "azure"
    ANTHROPIC = "anthropic"
    CLAUDE = "anthropic"  # MetaGPT's alias: the same provider
    GEMINI = "gemini"
    OLLAMA = "ollama"
    LOCAL = "local"
    FAKE = "fake"
    DEEPSEEK = "deepseek"
    MOONSHOT = "moonshot"
    MISTRAL = "mistral"
    OPENROUTER = "openrouter"
    GROQ = "groq"
    TOGETHER = "together"
    FIREWORKS = "fireworks"
    SILICONFLOW = "siliconflow"
    DASHSCOPE = "dashscope"
    ZHIPUAI = "zhipuai"
    XAI = "xai"
    OPEN_LLM = "open_llm"


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
        if key == "model":
            return self.config.resolved_model
        if key in ("api_key", "base_url"):
            from metagpt.configs.catalogue import PRESETS

            preset = PRESETS[self.config.resolved_api_type]
            field = (preset.key_field or "openai_api_key") if key == "api_key" else preset.base_url_field
            value = getattr(self.config, field)
            return (preset.base_url or OPENAI_BASE_URL) if key == "base_url" and value is None else value
        return getattr(self.config, LLM_FIELDS[key])

    def __setattr__(self, key: str, value: Any) -> None:
        if key not in LLM_FIELDS:
            raise AttributeError(f"LLMConfig has no {key!r}; it has: {', '.join(LLM_FIELDS)}")
        set_field(self.config, LLM_FIELDS[key], value)

    def model_dump(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in LLM_FIELDS}

    def __repr__(self) -> str:
        shown = {k: ("(hidden)" if k == "api_key" and v else v) for k, v in self.model_dump().items()}
        return f"LLMConfig({shown})"
