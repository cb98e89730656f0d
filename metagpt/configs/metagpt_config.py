"""`MetaGPTConfig`: our `Config` with the attributes MetaGPT 0.7-0.8 scripts read from theirs.

`metagpt.config2.Config` is this class: `Config.default()` loads our configuration (environment,
`config/config.yaml`, `config/key.yaml`) and `.llm`, `.workspace` view it. Every `Context`
holds one, so `context.config.llm.model` works wherever a script finds a context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict

from metagpt.configs.llm_config import LLM_FIELDS, LLMConfig
from metagpt.configs.settings import Config, _read_yaml
from metagpt.configs.workspace_config import WorkspaceConfig
from metagpt.exceptions import ConfigError

HOME_CONFIG_DIR = Path("~/.metagpt")
"""Where MetaGPT 0.7+ keeps named configurations (`Config.from_home("gpt-4.yaml")`)."""


class MetaGPTConfig(Config):
    """`Config` plus MetaGPT 0.7-0.8's `llm`, `workspace`, `get_openai_llm()`, `from_home()`."""

    model_config = ConfigDict(defer_build=True)
    """Its validator is built on first validation, not at import: `Context` converts configs
    with `model_construct`, which needs none."""

    @property
    def llm(self) -> LLMConfig:
        return LLMConfig(self)

    @property
    def workspace(self) -> WorkspaceConfig:
        return WorkspaceConfig(self)

    def get_openai_llm(self) -> LLMConfig | None:
        """The LLM settings when the provider is OpenAI-compatible (OpenAI or Azure), else None."""
        return self.llm if self.resolved_api_type in ("openai", "azure") else None

    @classmethod
    def of(cls, config: Config) -> MetaGPTConfig:
        """`config` itself when it is already one, else the same settings as a `MetaGPTConfig`."""
        if isinstance(config, cls):
            return config
        return cls.model_construct(_fields_set=set(config.model_fields_set), **dict(config))

    @classmethod
    def from_llm_config(cls, llm_config: dict[str, Any] | LLMConfig) -> MetaGPTConfig:
        """The default configuration with MetaGPT's `llm:` keys (`model`, `api_key`, ...) applied."""
        values = llm_config.model_dump() if isinstance(llm_config, LLMConfig) else dict(llm_config)
        unknown = set(values) - set(LLM_FIELDS)
        if unknown:
            raise ConfigError(f"Unknown llm keys {sorted(unknown)}; known: {', '.join(LLM_FIELDS)}.")
        config = cls.default()
        llm = config.llm
        for key, value in values.items():
            if value is not None:
                setattr(llm, key, value)
        return config

    @classmethod
    def from_home(cls, path: str | Path) -> MetaGPTConfig | None:
        """A MetaGPT 0.7+ YAML file in `~/.metagpt/` (its `llm:` section); None when it does not exist."""
        file = (HOME_CONFIG_DIR / path).expanduser()
        if not file.is_file():
            return None
        llm = _read_yaml(file).get("llm") or {}
        if not isinstance(llm, dict):
            raise ConfigError(f"{file}: `llm:` must be a mapping of model, api_key, base_url, ...")
        return cls.from_llm_config(llm)
