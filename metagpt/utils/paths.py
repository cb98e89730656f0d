"""Names that come from a model, made safe to use on disk."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated

from pydantic import AfterValidator

_NON_IDENT = re.compile(r"[^0-9a-zA-Z_]+")
_FILLER = {"a", "an", "the", "write", "make", "create", "build", "design", "develop", "please", "me"}


def to_identifier(text: str, max_length: int = 40, drop_filler: bool = False) -> str:
    """A snake_case Python identifier made from free text (`"Snake Game!"` -> `snake_game`)."""
    words = [w for w in _NON_IDENT.sub(" ", text).lower().split() if w]
    if drop_filler:
        words = [w for w in words if w not in _FILLER] or words
    name = "_".join(words)[:max_length].strip("_")
    if name and name[0].isdigit():
        name = f"p_{name}"
    return name


def safe_relative_path(name: str) -> str:
    """A relative POSIX path that cannot leave its folder.

    Leading `./` and backslashes are normalised; absolute paths, drive letters, `..` parts and
    empty names raise `ValueError` (its message is fed back to the model).
    """
    cleaned = name.strip().strip("`\"'").replace("\\", "/")
    while cleaned.startswith("./"):
        cleaned = cleaned[2:]
    path = PurePosixPath(cleaned)
    if not cleaned or path.is_absolute() or re.match(r"^[a-zA-Z]:", cleaned):
        raise ValueError(f"file path {name!r} must be relative, like 'main.py' or 'game/board.py'")
    if any(part in ("..", "") for part in cleaned.split("/")):
        raise ValueError(f"file path {name!r} must not contain '..' or empty parts")
    return str(path)


def safe_file_list(names: list[str]) -> list[str]:
    """Safe relative paths, duplicates dropped in order; at least one is required."""
    paths = list(dict.fromkeys(safe_relative_path(name) for name in names))
    if not paths:
        raise ValueError("the list must name at least one file, like 'main.py'")
    return paths


FileList = Annotated[list[str], AfterValidator(safe_file_list)]
"""A list of file paths from a model, validated with `safe_file_list`."""
