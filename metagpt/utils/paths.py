"""Names that come from a model, made safe to use on disk and to print.

Every model-supplied name passes through one normaliser before it reaches a path or the
terminal: `safe_relative_path` for file paths (lists of them through `safe_file_list`, which
also resolves duplicates and file/folder clashes) and `package_name` for the package folder.
`clean_text` removes terminal escape sequences and control characters from any text shown.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated

from loguru import logger
from pydantic import AfterValidator

from metagpt.const import RESERVED_NAMES

_NON_IDENT = re.compile(r"[^0-9a-zA-Z_]+")
_FILLER = {"a", "an", "the", "write", "make", "create", "build", "design", "develop", "please", "me"}

# ANSI/VT escape sequences: CSI (`ESC [ ... final`), OSC/DCS/APC/PM/SOS strings (ended by BEL or
# `ESC \`, or running to the end), 8-bit CSI, and any other `ESC x` pair.
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|\x1b[ -~]?"
)
# C0/C1 controls, DEL, bidirectional overrides and zero-width marks, and lone surrogates (bytes
# that were not valid UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_NEWLINES = re.compile(r"[\t\n]")
_UNSAFE_CHARS = re.compile(r"[^\w.\-]+")

MAX_PART_BYTES = 100
"""Longest file or folder name, in UTF-8 bytes (file systems allow 255; temporary names need room)."""
MAX_DEPTH = 8
"""Most folders a model-supplied path may nest."""
GIT_NAMES = frozenset({".git", ".gitattributes", ".gitmodules"})
"""Names git obeys (its folder, attribute filters, submodules): never a file the model names,
at any depth (a `.git` deeper down would be a nested repository)."""


def clean_text(text: str, keep_newlines: bool = True) -> str:
    """`text` without terminal escape sequences, control characters or invisible direction marks.

    Model and server text is shown on a terminal, where `ESC ]0;...` would retitle the window and
    `ESC [2J` clear it; this is the one filter applied before anything reaches it.
    """
    text = _CONTROL.sub("", _ESCAPE.sub("", text))
    return text if keep_newlines else _NEWLINES.sub(" ", text)


def to_identifier(text: str, max_length: int = 40, drop_filler: bool = False) -> str:
    """A snake_case Python identifier made from free text (`"Snake Game!"` -> `snake_game`)."""
    words = [w for w in _NON_IDENT.sub(" ", clean_text(text)).lower().split() if w]
    if drop_filler:
        words = [w for w in words if w not in _FILLER] or words
    name = "_".join(words)[:max_length].strip("_")
    if name and name[0].isdigit():
        name = f"p_{name}"
    return name


def package_name(text: str) -> str:
    """The package folder for a model-chosen name: an identifier that is not a reserved name.

    `docs`, `resources`, `logs` and `requirements.txt` hold the project's own files, so a package
    of that name is renamed (`logs` -> `logs_pkg`), with a warning. Returns "" for a name with no
    letters, which the caller rejects.
    """
    name = to_identifier(text)
    if name in RESERVED_NAMES:
        renamed = f"{name}_pkg"
        logger.warning(f"The package name {name!r} is reserved for the project's own files; using {renamed!r}.")
        return renamed
    return name


def safe_relative_path(name: str) -> str:
    """The normalised form of a model-supplied file path: relative, bounded, printable.

    Escape sequences and control characters are removed, backslashes become `/`, `./` and `.`
    parts are dropped, characters other than letters, digits, `_`, `.` and `-` become `_`, a
    leading `-` becomes `_`, and each name is cut to `MAX_PART_BYTES` keeping its extension.
    Absolute paths, drive letters, `..` parts, empty parts and names with nothing left raise
    `ValueError`, whose message is fed back to the model.
    """
    cleaned = clean_text(name, keep_newlines=False).strip().strip("`\"'").strip().replace("\\", "/")
    shown = repr(clean_text(name, keep_newlines=False)[:120])
    if not cleaned.strip("./") or cleaned.startswith("/") or re.match(r"^[a-zA-Z]:", cleaned):
        raise ValueError(f"file path {shown} must be relative, like 'main.py' or 'game/board.py'")
    parts = [part for part in cleaned.split("/") if part != "."]
    if any(part == "" or set(part) == {"."} for part in parts):
        raise ValueError(f"file path {shown} must not contain '..' or empty parts")
    if len(parts) > MAX_DEPTH:
        raise ValueError(f"file path {shown} nests more than {MAX_DEPTH} folders; use a flatter layout")
    safe = [_safe_part(part) for part in parts]
    if any(part.casefold().rstrip(". ") in GIT_NAMES for part in safe):
        raise ValueError(f"file path {shown} names git's own files (.git, .gitattributes, .gitmodules); choose another")
    return str(PurePosixPath(*safe))


def _safe_part(part: str) -> str:
    part = _UNSAFE_CHARS.sub("_", part.strip())
    if part.startswith("-"):
        part = "_" + part[1:]
    if len(part.encode("utf-8")) <= MAX_PART_BYTES:
        return part
    stem, dot, suffix = part.rpartition(".")
    if not dot or not stem or len(suffix.encode("utf-8")) > 16:
        stem, suffix = part, ""
    room = MAX_PART_BYTES - len(suffix.encode("utf-8")) - (1 if suffix else 0)
    stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip("._") or "file"
    return f"{stem}.{suffix}" if suffix else stem


def resolve_clash(path: str, taken: list[str]) -> str:
    """`path`, renamed where it would clash with `taken` paths as a file and a folder at once.

    `a.py` and `a.py/b.py` (or `a/b.py` and `a`) cannot both exist: the clashing name of the
    later path gets a `_2`-style suffix. Names compare case-insensitively, as on macOS and
    Windows.
    """
    files = {p.casefold() for p in taken}
    folders = {"/".join(p.split("/")[:i]).casefold() for p in taken for i in range(1, p.count("/") + 1)}
    parts = path.split("/")
    for index in range(len(parts)):
        is_file = index == len(parts) - 1
        prefix = "/".join(parts[: index + 1]).casefold()
        if prefix in (folders if is_file else files):
            parent = "/".join(parts[:index])
            for n in range(2, 1000):
                stem, dot, suffix = parts[index].partition(".") if is_file else (parts[index], "", "")
                candidate = f"{stem}_{n}{dot}{suffix}"
                joined = f"{parent}/{candidate}" if parent else candidate
                if joined.casefold() not in files | folders:
                    break
            logger.warning(f"{path!r} clashes with a planned {'folder' if is_file else 'file'}; using {candidate!r}.")
            parts[index] = candidate
    return "/".join(parts)


def merge_file_lists(*lists: list[str]) -> list[str]:
    """Already normalised paths of several lists as one plan: in order, duplicates dropped, clashes renamed.

    Each list is clash-free on its own, but the task list's `a.py/b.py` and the design's `a.py`
    are not together; renaming here, before any file is written, keeps the names on disk the
    same whichever file a parallel Engineer finishes first.
    """
    paths: list[str] = []
    for path in (p for names in lists for p in names):
        if path.casefold() not in {p.casefold() for p in paths}:
            paths.append(resolve_clash(path, paths))
    return paths


def safe_file_list(names: list[str]) -> list[str]:
    """Normalised paths in order; at least one is required.

    Entries that name no file (`.`, `./`, blank) and duplicates are dropped, clashes renamed.
    """
    normalised: list[str] = []
    for name in names:
        if not clean_text(name, keep_newlines=False).strip(" `\"'./\\"):
            logger.warning(f"Dropped {clean_text(name, keep_newlines=False)!r} from a file list: it names no file.")
            continue
        normalised.append(safe_relative_path(name))
    paths = merge_file_lists(normalised)
    if not paths:
        raise ValueError("the list must name at least one file, like 'main.py'")
    return paths


FileList = Annotated[list[str], AfterValidator(safe_file_list)]
"""A list of file paths from a model, validated with `safe_file_list`."""
