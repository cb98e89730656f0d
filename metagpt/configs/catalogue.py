"""Which providers exist, as data: their wire protocol, base URL, key setting and default model.

`API_TYPE` (or `api_type:` in `config2.yaml`) names one of `API_TYPES`, or an alias MetaGPT
accepts (`claude`, `google`, `metagpt`). Native protocols (`anthropic`, `gemini`, `ollama`) have
a module of their own; the OpenAI-compatible vendors are presets of the OpenAI provider: a
default base URL, the key variable as the vendor names it, and a default model. Everything is
overridable: `OPENAI_BASE_URL` (or `base_url:`) moves a preset, `OPENAI_API_MODEL` (or `model:`)
picks another model.

`endpoint(config)` resolves a configuration to the one place its calls go.
"""

from __future__ import annotations

import functools
import importlib.metadata
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Literal, cast

from metagpt.exceptions import ConfigError

Protocol = Literal["openai", "azure", "anthropic", "gemini", "ollama", "local", "fake"]


@dataclass(frozen=True)
class Preset:
    """One `api_type`: how its calls are sent and what it uses when nothing else is set."""

    protocol: Protocol
    model: str
    """Model used when none is configured."""
    base_url: str | None = None
    """Where calls go when no base URL is configured; None: one must be."""
    key_field: str | None = None
    """`Config` field holding the key (its upper-case alias is the variable); None: no key."""
    key_required: bool = True
    base_url_field: str = "openai_base_url"
    """`Config` field that moves this provider to another URL."""


OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com"
GEMINI_URL = "https://generativelanguage.googleapis.com"
OLLAMA_URL = "http://127.0.0.1:11434"


def _compatible(base_url: str, key_field: str, model: str) -> Preset:
    return Preset("openai", model, base_url, key_field)


PRESETS: dict[str, Preset] = {
    "openai": Preset("openai", "gpt-4o-mini", OPENAI_URL, "openai_api_key"),
    "azure": Preset("azure", "gpt-4o-mini", None, "openai_api_key"),
    "anthropic": Preset(
        "anthropic", "claude-sonnet-4-5", ANTHROPIC_URL, "anthropic_api_key", True, "anthropic_base_url"
    ),
    "gemini": Preset("gemini", "gemini-2.5-flash", GEMINI_URL, "gemini_api_key", True, "gemini_base_url"),
    "ollama": Preset("ollama", "llama3.2", OLLAMA_URL, None, False, "ollama_host"),
    "local": Preset("local", "SmolLM2-135M-Instruct", None, None, False),
    "fake": Preset("fake", "fake", None, None, False),
    "deepseek": _compatible("https://api.deepseek.com/v1", "deepseek_api_key", "deepseek-chat"),
    "moonshot": _compatible("https://api.moonshot.cn/v1", "moonshot_api_key", "kimi-k2-0905-preview"),
    "mistral": _compatible("https://api.mistral.ai/v1", "mistral_api_key", "mistral-large-latest"),
    "openrouter": _compatible("https://openrouter.ai/api/v1", "openrouter_api_key", "openai/gpt-4o-mini"),
    "groq": _compatible("https://api.groq.com/openai/v1", "groq_api_key", "llama-3.3-70b-versatile"),
    "together": _compatible(
        "https://api.together.xyz/v1", "together_api_key", "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    ),
    "fireworks": _compatible(
        "https://api.fireworks.ai/inference/v1",
        "fireworks_api_key",
        "accounts/fireworks/models/llama-v3p3-70b-instruct",
    ),
    "siliconflow": _compatible("https://api.siliconflow.cn/v1", "siliconflow_api_key", "deepseek-ai/DeepSeek-V3"),
    "dashscope": _compatible("https://dashscope.aliyuncs.com/compatible-mode/v1", "dashscope_api_key", "qwen-plus"),
    "zhipuai": _compatible("https://open.bigmodel.cn/api/paas/v4", "zhipuai_api_key", "glm-4.6"),
    "xai": _compatible("https://api.x.ai/v1", "xai_api_key", "grok-4"),
    "open_llm": Preset("openai", "", None, "openai_api_key", False),
}
"""Every `api_type` this package sends calls for."""

API_TYPES = tuple(PRESETS)

CONTEXT_WINDOWS = {
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "deepseek-chat": 128_000,
    "deepseek-reasoner": 128_000,
    "kimi-k2": 262_144,
    "moonshot-v1-8k": 8_192,
    "moonshot-v1-32k": 32_768,
    "moonshot-v1-128k": 131_072,
    "mistral-large-latest": 131_072,
    "mistral-small-latest": 131_072,
    "codestral-latest": 262_144,
    "llama-3.3-70b-versatile": 131_072,
    "llama-3.1-8b-instant": 131_072,
    "meta-llama/Llama-3.3-70B-Instruct-Turbo": 131_072,
    "accounts/fireworks/models/llama-v3p3-70b-instruct": 131_072,
    "deepseek-ai/DeepSeek-V3": 131_072,
    "qwen-plus": 131_072,
    "qwen-max": 32_768,
    "qwen-turbo": 1_000_000,
    "glm-4.6": 200_000,
    "grok-4": 256_000,
    "grok-3-mini": 131_072,
    "openai/gpt-4o-mini": 128_000,
    "anthropic/claude-sonnet-4.5": 200_000,
}
"""Prompt + completion tokens of the presets' and OpenAI's main models (longest prefix wins)."""


def context_window_of(model: str) -> int | None:
    """The known context window of `model` (a dated snapshot takes its family's), or None."""
    matches = [name for name in CONTEXT_WINDOWS if model == name or model.startswith(name + "-")]
    return CONTEXT_WINDOWS[max(matches, key=len)] if matches else None


ALIASES = {"claude": "anthropic", "google": "gemini", "metagpt": "openai", "zhipu": "zhipuai", "grok": "xai"}
"""Names MetaGPT (or the vendor) uses for the same provider."""

UNSUPPORTED = {
    "bedrock": "AWS Bedrock signs requests with AWS credentials; use its OpenAI-compatible gateway (api_type: "
    "open_llm with base_url) or api_type: anthropic for Claude",
    "qianfan": "use Qianfan's OpenAI-compatible v2 endpoint: api_type: open_llm, base_url: "
    "https://qianfan.baidubce.com/v2",
    "spark": "use Spark's OpenAI-compatible endpoint: api_type: open_llm, base_url: https://spark-api-open.xf-yun.com/v1",
}
"""`api_type`s of MetaGPT this package has no protocol for, and what to use instead."""


PLUGIN_GROUP = "metagpt.providers"
"""The entry-point group a package of its own adds a provider by: `name = "module:factory"`, the
factory a `Provider` class (built with its `from_config`) or a callable taking the `Config`."""


@functools.cache
def plugin_entry_points() -> dict[str, EntryPoint]:
    """The installed packages' providers (`PLUGIN_GROUP`), by `api_type`; none is imported here."""
    found = importlib.metadata.entry_points(group=PLUGIN_GROUP)
    return {point.name.strip().lower().replace("-", "_"): point for point in found}


def add_api_type(name: str, preset: Preset | None = None) -> str:
    """Make `name` an `api_type` (a provider registered by name); returns it.

    Without a `preset` its calls use its own protocol (`name`), no default URL, model or key: the
    provider reads what it needs from the configuration (`OPENAI_API_MODEL`, `OPENAI_BASE_URL`...).
    """
    PRESETS.setdefault(name, preset or Preset(cast(Protocol, name), "", None, None, False))
    return name


def canonical_api_type(name: str) -> str:
    """The `api_type` that `name` (any case, an alias) means.

    Raises:
        ValueError: for a name no provider answers to, listing those that do.
    """
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key in PRESETS:
        return key
    if key in plugin_entry_points():  # a provider another package adds: known by name until it is built
        return add_api_type(key)
    if key in UNSUPPORTED:
        raise ValueError(f"is not supported here: {UNSUPPORTED[key]}")
    raise ValueError(f"is not a known provider; use one of: {', '.join(API_TYPES)} (or alias {', '.join(ALIASES)})")


@dataclass(frozen=True)
class Endpoint:
    """Where one configuration's calls go."""

    api_type: str
    protocol: Protocol
    model: str
    base_url: str | None
    api_key: str | None
    key_name: str | None
    """The setting the key comes from (for messages: `DEEPSEEK_API_KEY`)."""
    url_name: str
    """The setting that moves the base URL (for messages: `ANTHROPIC_BASE_URL`)."""


def endpoint(config) -> Endpoint:
    """The provider, model, URL and key `config` selects.

    Raises:
        ConfigError: when the provider needs a key or a URL that is not set, naming the setting.
    """
    api_type = config.resolved_api_type
    preset = PRESETS[api_type]
    aliases = {name: key for key, name in type(config).field_aliases().items()}
    key_name = aliases.get(preset.key_field) if preset.key_field else None
    url_name = aliases.get(preset.base_url_field, preset.base_url_field.upper())
    key = getattr(config, preset.key_field) if preset.key_field else None
    if api_type == "gemini" and key is None:
        key = config.google_api_key  # the Gemini SDK reads GOOGLE_API_KEY too
    base_url = getattr(config, preset.base_url_field) or preset.base_url
    model = config.openai_api_model or preset.model
    if preset.protocol in ("local", "fake"):
        return Endpoint(api_type, preset.protocol, model, None, None, None, url_name)
    if not model:
        raise ConfigError(f"API_TYPE {api_type} needs a model: set OPENAI_API_MODEL (or model: in config2.yaml).")
    if base_url is None:
        raise ConfigError(f"API_TYPE {api_type} needs {url_name}: the endpoint's URL (or base_url: in config2.yaml).")
    if key is None and preset.key_required and base_url == preset.base_url:
        raise ConfigError(
            f"No API key for {api_type}: set {key_name} in config/key.yaml (or the environment), or {url_name} for a "
            "local server (or api_key: in config2.yaml)."
        )
    return Endpoint(api_type, preset.protocol, model, base_url.rstrip("/"), key, key_name, url_name)


def describe_model(config, sources: dict[str, str], where: str | None = None) -> str:
    """`anthropic claude-sonnet-4-5 at https://api.anthropic.com [config/config2.yaml: llm]`, for `-v`.

    `where` names the source when it is not a setting of `config` itself (a role's `roles:` entry).
    """
    api_type, model = config.resolved_api_type, config.resolved_model
    preset = PRESETS[api_type]
    url = getattr(config, preset.base_url_field) or preset.base_url
    if where is None:
        chosen = [sources[name] for name in ("api_type", "openai_api_model") if name in sources]
        where = "; ".join(dict.fromkeys(chosen)) or "default"
    shown = f"{api_type} {model}" + (f" at {url}" if url and preset.protocol not in ("local", "fake") else "")
    return f"{shown} [{where}]"
