"""Reading a YAML settings file that may be hostile: bounded in size, depth and time.

`yaml.safe_load` refuses Python objects but still expands aliases: a 1 KB file of nested
aliases (`b: [*a, *a, ...]`) becomes gigabytes once constructed. A settings file has no use
for aliases, so they are refused, as are mappings nested deeper than `MAX_DEPTH`, files larger
than `MAX_FILE_BYTES`, and duplicate keys (YAML keeps the last one silently). The file is
checked with `stat` before it is opened, and opened non-blocking, so a folder, a dangling link
or a named pipe in its place is an error instead of being ignored or blocking forever.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path
from typing import Any

from metagpt.exceptions import QUOTE_LIMIT, ConfigError, brief, brief_error

MAX_FILE_BYTES = 1 << 20
"""A settings file is a few hundred bytes; anything above 1 MiB is a mistake."""
MAX_DEPTH = 16
"""Nesting a settings file may use (`MODEL_PRICES: {model: {prompt: ..}}` needs 3)."""


class _Refused(Exception):
    """A construct settings files may not use; the message says where and what to do."""


def read_yaml_mapping(path: Path) -> dict[str, Any] | None:
    """The mapping in the YAML file `path`, or None when there is no file there.

    Raises:
        ConfigError: one line naming the file (and line) and what to change; the file's text is
            never quoted, since it may hold a secret.
    """
    data = _read_bytes(path)
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); save it as UTF-8."
        ) from None
    import yaml

    loader = _loader_class()(text)
    try:
        value = loader.get_single_data()
    except _Refused as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or "syntax error")[:QUOTE_LIMIT].split())
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}.") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"{path}: a value cannot be read ({brief_error(exc)}).") from None
    finally:
        loader.dispose()
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected `KEY: value` lines, found {type(value).__name__}.")
    return value


def _read_bytes(path: Path) -> bytes | None:
    """The file's bytes; None when nothing is there. Anything else that is not a readable file is an error."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ConfigError(
                f"{path}: a link to {brief(os.readlink(path))}, which does not exist; fix the link or remove it."
            ) from None
        return None
    except NotADirectoryError:
        return None  # a file where the config folder should be: there is no such file
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or brief_error(exc)}).") from None
    _check_regular(path, info)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or brief_error(exc)}).") from None
    with os.fdopen(fd, "rb") as handle:
        _check_regular(path, os.fstat(handle.fileno()))  # replaced between stat and open
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES} bytes; a settings file holds a few lines.")
    return data


def _check_regular(path: Path, info: os.stat_result) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{path}: is a folder, not a file; remove it, or put the settings in a file of that name.")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            f"{path}: is not a regular file (a pipe, socket or device); replace it with a text file of settings."
        )
    if info.st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES} bytes; a settings file holds a few lines.")


@functools.cache
def _loader_class() -> type:
    """`yaml.SafeLoader` without aliases, deep nesting or duplicate keys (built on first use)."""
    import yaml

    class SettingsLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise _Refused(
                    f"line {mark.line + 1}: YAML aliases (*name) are not allowed in settings files; "
                    "write the value out in full."
                )
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    raise _Refused(f"line {mark.line + 1}: nested deeper than {MAX_DEPTH} levels; flatten the value.")
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # a complex key: the base class refuses what cannot be a key
                key = self.construct_object(key_node, deep=False)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    named = isinstance(key, str) and len(key) <= 40 and not key.lower().startswith("sk-")
                    shown = f" {key!r}" if named else ""  # a mistyped secret is never echoed
                    raise _Refused(
                        f"line {line}: duplicate key{shown} (first set at line {first_line[key]}); keep only one."
                    )
                first_line[key] = line
            return super().construct_mapping(node, deep=deep)

    return SettingsLoader
