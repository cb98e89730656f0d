"""MetaGPT 0.7-0.8's `config2.yaml`, read into our settings.

The file has sections (`llm:`, `roles:`, `embedding:`, `search:`, `mermaid:`, `workspace:`,
`exp_pool:`) where our `config.yaml` has flat upper-case keys; both forms are accepted in it. An
`llm:` block's `api_key` and `base_url` are the keys of the provider it names (`api_type:
anthropic` -> `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`), so one block describes one endpoint.
MetaGPT keys this package has no use for (`proxy`, `top_p`, `redis:`, ...) are named in one
warning and ignored; anything else is an error naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loguru import logger

from metagpt.configs.catalogue import PRESETS, canonical_api_type
from metagpt.exceptions import ConfigError
from metagpt.utils.yaml_file import read_yaml_mapping

LLM_KEYS = {
    "api_type": "API_TYPE",
    "model": "OPENAI_API_MODEL",
    "api_version": "OPENAI_API_VERSION",
    "max_token": "MAX_TOKENS",
    "max_tokens": "MAX_TOKENS",
    "temperature": "TEMPERATURE",
    "timeout": "TIMEOUT",
    "context_length": "CONTEXT_WINDOW",
}
"""`llm:` keys that are one setting whatever the provider (`api_key`, `base_url` depend on it)."""
LLM_IGNORED = frozenset(
    {"pricing_plan", "app_id", "api_secret", "domain", "top_p", "top_k", "repetition_penalty", "stop",
     "presence_penalty", "frequency_penalty", "best_of", "n", "stream", "logprobs", "top_logprobs", "region_name",
     "proxy", "calc_usage", "use_system_prompt", "access_key", "secret_key", "endpoint", "reasoning",
     "reasoning_max_token", "rpm"}
)  # fmt: skip
"""MetaGPT `llm:` keys that change nothing here."""

SECTIONS = {
    "embedding": {"api_type": "EMBEDDING_API_TYPE", "model": "EMBEDDING_MODEL", "base_url": "EMBEDDING_BASE_URL",
                  "api_key": "EMBEDDING_API_KEY"},
    "search": {"api_type": "SEARCH_ENGINE", "api_key": "_search_key", "cse_id": "GOOGLE_CSE_ID"},
    "mermaid": {"engine": "MERMAID_ENGINE", "path": "MMDC"},
    "workspace": {"path": "WORKSPACE_PATH"},
    "exp_pool": {"enabled": "EXP_POOL_ENABLED", "enable_read": "EXP_POOL_READ", "enable_write": "EXP_POOL_WRITE"},
}  # fmt: skip
"""Sections whose keys are our settings."""
IGNORED_SECTIONS = frozenset(
    {"proxy", "browser", "redis", "s3", "repair_llm_output", "prompt_schema", "language", "inc", "reqa_file",
     "max_auto_summarize_code", "git_reinit", "project_path", "project_name", "metagpt_tti_url", "azure_tts_region",
     "azure_tts_subscription_key", "iflytek_app_id", "iflytek_api_key", "iflytek_api_secret", "omniparse",
     "agentops_api_key", "models", "role_zero", "code_review_k_times", "enable_longterm_memory"}
)  # fmt: skip
"""MetaGPT sections and keys without an effect here."""

SEARCH_KEYS = {"serpapi": "SERPAPI_API_KEY", "serper": "SERPER_API_KEY", "google": "GOOGLE_API_KEY"}


def llm_settings(llm: dict[str, Any], api_type: str | None, where: str, aliases: dict[str, str]) -> dict[str, Any]:
    """Our upper-case settings for one `llm:` block; `api_type` is the provider it falls back on.

    `aliases` maps each upper-case key to its field (`Config.field_aliases()`).

    Raises:
        ConfigError: a key MetaGPT does not have, or a provider no one answers to.
    """

    if not isinstance(llm, dict):
        raise ConfigError(f"{where}: must be a mapping of api_type, model, base_url, api_key, ...")
    settings: dict[str, Any] = {}
    ignored = []
    for key, value in llm.items():
        if key in LLM_KEYS:
            settings[LLM_KEYS[key]] = value
        elif key in LLM_IGNORED:
            ignored.append(key)
        elif key not in ("api_key", "base_url"):
            known = ", ".join(sorted({*LLM_KEYS, "api_key", "base_url"}))
            raise ConfigError(f"{where}: unknown key {key!r}. Known keys: {known}.")
    chosen = llm.get("api_type") or api_type or "openai"
    try:
        preset = PRESETS[canonical_api_type(str(chosen))]
    except ValueError as exc:
        raise ConfigError(f"{where}.api_type: {chosen!r} {exc}.") from None
    keys = {name: key for key, name in aliases.items()}
    if llm.get("api_key") is not None:
        settings[keys[preset.key_field or "openai_api_key"]] = llm["api_key"]
    if llm.get("base_url") is not None:
        settings[keys[preset.base_url_field]] = llm["base_url"]
    if ignored:
        logger.warning(f"{where}: {', '.join(sorted(ignored))} change nothing here; ignored.")
    return settings


def read_config2(path: Path, aliases: dict[str, str]) -> dict[str, Any]:
    """The settings of one `config2.yaml` as upper-case keys (`ROLES` for `roles:`); {} when absent."""
    data = read_yaml_mapping(path) or {}
    settings: dict[str, Any] = {}
    ignored = []
    for key, value in data.items():
        if key in aliases:
            settings[key] = value
        elif key == "llm":
            settings.update(llm_settings(value or {}, None, f"{path}: llm", aliases))
        elif key == "roles":
            settings["ROLES"] = _roles(value, path)
        elif key in SECTIONS:
            settings.update(_section(key, value, path))
        elif key in IGNORED_SECTIONS:
            ignored.append(key)
        else:
            known = ", ".join(["llm", "roles", *SECTIONS])
            raise ConfigError(f"{path}: unknown key {str(key)[:40]!r}. Known sections: {known} (or a setting's key).")
    if ignored:
        logger.warning(f"{path}: {', '.join(sorted(ignored))} change nothing here; ignored.")
    return settings


def _roles(value: Any, path: Path) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise ConfigError(f"{path}: roles: must be a list of {{role: Architect, llm: {{model: ..., api_type: ...}}}}.")
    for index, entry in enumerate(value):
        unknown = set(entry) - {"role", "llm"}
        if unknown or not entry.get("role"):
            raise ConfigError(f"{path}: roles[{index}] needs role: and llm: only (got {sorted(map(str, entry))}).")
    return value


def _section(name: str, value: Any, path: Path) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {name}: must be a mapping.")
    keys = SECTIONS[name]
    settings: dict[str, Any] = {}
    for key, item in value.items():
        if key not in keys:
            raise ConfigError(f"{path}: {name}.{key} is unknown. Known keys: {', '.join(keys)}.")
        settings[keys[key]] = item
    if "_search_key" in settings:  # the key of whichever engine the section names
        key = settings.pop("_search_key")
        engine = str(value.get("api_type") or "serpapi").lower()
        settings[SEARCH_KEYS.get(engine, "SERPAPI_API_KEY")] = key
    return settings
