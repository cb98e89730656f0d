"""The settings of providers other than OpenAI's: their keys and URLs, and a model per role.

`Config` inherits these fields; each key is read from the variable its vendor names
(`ANTHROPIC_API_KEY`, `DEEPSEEK_API_KEY`, ...), so an OpenAI key is never sent to another vendor.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from metagpt.utils.sendable import is_placeholder, sendable_key, url_problem

MAX_URL, MAX_SECRET, MAX_NAME = 2000, 1000, 200

VENDOR_KEYS = (
    "deepseek",
    "moonshot",
    "mistral",
    "openrouter",
    "groq",
    "together",
    "fireworks",
    "siliconflow",
    "dashscope",
    "zhipuai",
    "xai",
)
"""OpenAI-compatible vendors whose key has a variable of its own (`<VENDOR>_API_KEY`)."""

PROVIDER_SECRETS = frozenset({"anthropic_api_key", "gemini_api_key", *(f"{v}_api_key" for v in VENDOR_KEYS)})


def _key(name: str) -> Any:
    return Field(None, alias=name.upper(), max_length=MAX_SECRET)


class RoleModel(BaseModel):
    """One entry of `roles:` in `config2.yaml`: a role and the `llm:` settings it uses instead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str = Field(min_length=1, max_length=MAX_NAME)
    """A role's class name, profile or name (`Architect`)."""
    llm: dict[str, Any] = Field(default_factory=dict)
    """MetaGPT's `llm:` keys (`api_type`, `model`, `base_url`, `api_key`, ...), over the company's."""


class ProviderSettings(BaseModel):
    """Keys and URLs of the native and OpenAI-compatible providers; `roles:`."""

    anthropic_api_key: str | None = _key("ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(None, alias="ANTHROPIC_BASE_URL", max_length=MAX_URL)
    """Anthropic's endpoint; unset: the SDK's."""
    gemini_api_key: str | None = _key("GEMINI_API_KEY")
    """Also read from GOOGLE_API_KEY when unset (as the Gemini SDK does)."""
    gemini_base_url: str | None = Field(None, alias="GEMINI_BASE_URL", max_length=MAX_URL)
    """Gemini's endpoint; unset: the SDK's."""
    ollama_host: str | None = Field(None, alias="OLLAMA_HOST", max_length=MAX_URL)
    """Ollama's server as its own CLI reads it (`127.0.0.1:11434`, `http://gpu-box:11434`)."""
    deepseek_api_key: str | None = _key("DEEPSEEK_API_KEY")
    moonshot_api_key: str | None = _key("MOONSHOT_API_KEY")
    mistral_api_key: str | None = _key("MISTRAL_API_KEY")
    openrouter_api_key: str | None = _key("OPENROUTER_API_KEY")
    groq_api_key: str | None = _key("GROQ_API_KEY")
    together_api_key: str | None = _key("TOGETHER_API_KEY")
    fireworks_api_key: str | None = _key("FIREWORKS_API_KEY")
    siliconflow_api_key: str | None = _key("SILICONFLOW_API_KEY")
    dashscope_api_key: str | None = _key("DASHSCOPE_API_KEY")
    zhipuai_api_key: str | None = Field(
        None, validation_alias=AliasChoices("ZHIPUAI_API_KEY", "zhipuai_api_key"), max_length=MAX_SECRET
    )
    xai_api_key: str | None = _key("XAI_API_KEY")
    context_window: int | None = Field(None, alias="CONTEXT_WINDOW", gt=0, le=1 << 24)
    """The model's prompt + completion limit, where the provider cannot tell (MetaGPT's `context_length`)."""
    roles: tuple[RoleModel, ...] = Field((), alias="ROLES")
    """A model per role (`config2.yaml`'s `roles:`); roles not listed use the company's."""

    @field_validator(*PROVIDER_SECRETS, "anthropic_base_url", "gemini_base_url", "ollama_host", mode="before")
    @classmethod
    def _drop_placeholders(cls, value: Any) -> Any:
        return None if isinstance(value, str) and is_placeholder(value) else value

    @field_validator(*PROVIDER_SECRETS)
    @classmethod
    def _sendable_key(cls, value: str | None) -> str | None:
        return sendable_key(value)

    @field_validator("ollama_host", mode="before")
    @classmethod
    def _ollama_url(cls, value: Any) -> Any:
        """`host`, `host:port` or a URL, as `ollama` takes it; `0.0.0.0` (listen everywhere) is this machine."""
        if not isinstance(value, str) or not value.strip():
            return value
        text = value.strip()
        if "://" not in text:
            text = f"http://{text}"
        scheme, _, rest = text.partition("://")
        host, slash, path = rest.partition("/")
        if host.startswith("0.0.0.0"):
            host = "127.0.0.1" + host[len("0.0.0.0") :]
        if ":" not in host.rsplit("]", 1)[-1]:
            host += ":11434"
        return f"{scheme}://{host}{slash}{path}"

    @field_validator("anthropic_base_url", "gemini_base_url", "ollama_host")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        problem = url_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"is not a usable URL: {problem}; write it like http://localhost:8000")
        return value

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, dict):  # {Architect: {model: ...}}
            return tuple({"role": role, "llm": llm or {}} for role, llm in value.items())
        if not isinstance(value, list | tuple):
            raise ValueError("must be a list of {role: <role>, llm: {model: ..., api_type: ...}}")
        return tuple(value)

    def for_role(self, *names: str, where: str = "roles") -> Any:
        """This configuration as the role called any of `names` (class, profile, name) uses it.

        Itself when `roles:` lists none of them; otherwise a copy with that entry's `llm:` settings
        applied. A role moved to another provider drops the company's model and OpenAI base URL,
        which belong to the company's provider.

        Raises:
            ConfigError: naming the entry, when its settings are not valid.
        """
        from metagpt.configs.config2_file import llm_settings
        from metagpt.exceptions import ConfigError

        wanted = {_plain(name) for name in names if name}
        found = next(((i, e) for i, e in enumerate(self.roles) if _plain(e.role) in wanted), None)
        if found is None:
            return self
        index, entry = found
        label = f"{where}[{index}] ({entry.role}): llm"
        current = self.resolved_api_type  # type: ignore[attr-defined]
        settings = llm_settings(entry.llm, current, label, type(self).field_aliases())  # type: ignore[attr-defined]
        aliases = type(self).field_aliases()  # type: ignore[attr-defined]
        values = {**dict(self), "roles": ()}
        new_type = values["api_type"] if "API_TYPE" not in settings else settings["API_TYPE"]
        if "API_TYPE" in settings and type(self)(api_type=new_type).resolved_api_type != current:  # type: ignore[attr-defined]  # a mixin of Config
            values.update(openai_api_model=None, openai_base_url=None, openai_api_version=None)
        values.update({aliases[key]: value for key, value in settings.items()})
        try:
            return type(self)(**values)
        except ConfigError as exc:
            raise ConfigError(f"{label}: {exc}") from None


def _plain(name: str) -> str:
    """A role's name as `roles:` matches it: `Product Manager`, `product_manager`, `ProductManager`."""
    return "".join(ch for ch in name.lower() if ch.isalnum())
