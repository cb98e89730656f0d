"""Where settings come from, in order, later winning: the environment, `~/.metagpt/config2.yaml`,
`config/config2.yaml`, `config/config.yaml`, `config/key.yaml`, `--config FILE`, command-line
options. Each value is kept with a description of its source, for `-v` and for errors.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from metagpt.configs.config2_file import read_config2
from metagpt.const import CONFIG_DIR, CONFIG_FILES
from metagpt.exceptions import QUOTE_LIMIT, ConfigError, brief
from metagpt.utils.sendable import is_placeholder
from metagpt.utils.yaml_file import read_yaml_mapping


def read_sources(
    aliases: dict[str, str],
    root: Path,
    env: Mapping[str, str] | None,
    config_file: Path | None,
    overrides: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every set value by field name, and where each came from.

    `aliases` maps each upper-case key to its field (`Config.field_aliases()`); `overrides` are
    field names (`None` values ignored).

    Raises:
        ConfigError: an unknown key or a missing `--config` file, naming the file.
    """
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, name in aliases.items():
        if key in env and name != "roles":
            if not unset(env[key]):
                merged[name], sources[name] = env[key], f"environment variable {key}"
            elif env[key]:
                sources[name] = f"environment variable {key} {PLACEHOLDER_NOTE}"

    def config2(path: Path) -> dict[str, Any]:
        return read_config2(path, aliases)

    files: list[tuple[Path, Any]] = [(path, config2) for path in config2_paths(root)]
    files += [(root / CONFIG_DIR / name, read_yaml) for name in CONFIG_FILES]
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"--config {config_file}: no such file.")
        files.append((config_file, config2))
    for path, read in files:
        for key, value in read(path).items():
            if key not in aliases:
                raise ConfigError(f"{path}: unknown key {redact_key(key)!r}. Known keys: {', '.join(sorted(aliases))}.")
            if not unset(value):
                merged[aliases[key]], sources[aliases[key]] = value, f"{path}: {key}"
            elif value and aliases[key] not in merged:  # `-v` says the placeholder was seen, and ignored
                sources[aliases[key]] = f"{path}: {key} {PLACEHOLDER_NOTE}"
    for name, value in overrides.items():
        if value is not None:
            merged[name], sources[name] = value, "command line"
    return merged, sources


def config2_paths(root: Path) -> list[Path]:
    """MetaGPT 0.7's `config2.yaml` files: the user's, then the project's."""
    paths = []
    with contextlib.suppress(RuntimeError):  # no home folder known: only the project's
        paths.append(Path("~/.metagpt/config2.yaml").expanduser())
    paths.append(root / CONFIG_DIR / "config2.yaml")
    return paths


def redact_key(key: Any) -> str:
    """A YAML key for a message: a mistyped line such as `sk-abc...: x` must not echo the key."""
    text = str(key)
    return text if len(text) <= 40 and not text.lower().startswith("sk-") else f"{text[:3]}..."


PLACEHOLDER_NOTE = "holds a placeholder (such as sk-...): ignored"
"""What `-v` says of a key whose only value was a template placeholder."""


def unset(value: Any) -> bool:
    """Values that leave a key to the sources below: None, empty, or a template placeholder."""
    return value is None or (isinstance(value, str) and is_placeholder(value))


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a YAML settings file ({} when there is none); errors never quote its text."""
    return read_yaml_mapping(path) or {}


OPTION_NAMES = {"openai_api_model": "--model", "openai_base_url": "--base-url"}
"""The CLI options that set a field, named in errors about the values they were given."""


def settings_error(exc: ValidationError, sources: dict[str, str], secret: frozenset[str]) -> ConfigError:
    """The first problem of `exc` as one line naming its source; at most a few hundred characters.

    The value is quoted (briefly: a YAML file can hold a huge one) unless its field is `secret`.
    """
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][0]) if error["loc"] else "?"
    where = sources.get(field, "setting")
    if where in ("setting", "command line"):
        where = OPTION_NAMES.get(field, f"setting {field}") if where == "command line" else f"setting {field}"
    message = error["msg"].removeprefix("Value error, ")
    message = message if len(message) <= QUOTE_LIMIT else message[: QUOTE_LIMIT - 3] + "..."
    shown = "(hidden)" if field in secret else brief(error.get("input"))
    return ConfigError(f"{where}: {message} (got {shown}).")


def describe_settings(config: Any, sources: dict[str, str], secret: frozenset[str]) -> list[str]:
    """One line per setting of `config`: its key, effective value (`secret` fields hidden) and source.

    Another provider's unset key or URL is left out.
    """
    from metagpt.configs.provider_settings import ProviderSettings

    aliases = {name: key for key, name in type(config).field_aliases().items()}
    lines = []
    for name in type(config).model_fields:
        value = getattr(config, name)
        if name in ProviderSettings.model_fields and value in (None, ()) and name not in sources:
            continue
        shown = ("(hidden)" if value else "(unset)") if name in secret else value
        if name == "api_type" and value is None:
            shown = f"{config.resolved_api_type} (chosen automatically)"
        if name == "roles":
            shown = [{"role": entry.role, **_hide_key(entry.llm)} for entry in value]
        lines.append(f"{aliases.get(name, name.upper())} = {shown}  [{sources.get(name, 'default')}]")
    return lines


def _hide_key(llm: dict[str, Any]) -> dict[str, Any]:
    return {key: "(hidden)" if key == "api_key" and value else value for key, value in llm.items()}
