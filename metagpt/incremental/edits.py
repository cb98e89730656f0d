"""Search/replace edits: the Engineer's answer for a file that already exists.

The model quotes the exact lines to change and their replacement, with no line numbers, in a
markdown fence (never inside JSON):

    ```python
    calculator/calc.py
    <<<<<<< SEARCH
    def add(a, b):
        return a + b
    =======
    def add(a, b):
        return a + b


    def subtract(a, b):
        return a - b
    >>>>>>> REPLACE
    ```

A search text must occur exactly once. Matching tries the text as given, then line by line
ignoring trailing whitespace, then ignoring indentation too (the replacement is re-indented by
the same amount). Several places matching at the same level is an error, never a guess.
`apply_blocks` applies all the blocks of an answer or none: it returns every failure, each with
the real text nearest to the search, so the model can be shown what the file really says.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\b.*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\b.*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PATH = re.compile(r"^[\w./\\-]+\.\w+$|^[\w./\\-]+/[\w.-]+$")
CONTEXT_LINES = 3
"""Lines of real text shown on each side of the nearest match when a block fails."""
MAX_NEAREST_WINDOWS = 5000
"""Windows compared when looking for the nearest text (bounded for very long files)."""


class EditFormatError(ValueError):
    """The answer holds no well-formed SEARCH/REPLACE block."""


@dataclass(frozen=True)
class EditBlock:
    """One search/replace pair for one file; `index` counts blocks in the answer from 1."""

    path: str
    search: str
    replace: str
    index: int = 1


@dataclass
class BlockFailure:
    """A block that did not apply: why, and the file's real text nearest to its search."""

    block: EditBlock
    reason: str
    nearest: str = ""

    def describe(self) -> str:
        """The failure as the model is shown it: the block, why, and the real text."""
        text = (
            f"Block {self.block.index} for `{self.block.path}` did not apply: {self.reason}.\n"
            f"Its SEARCH text was:\n```\n{self.block.search}```\n"
        )
        if self.nearest:
            text += f"The file's real text nearest to it is:\n```\n{self.nearest}```\n"
        return text

    def line(self) -> str:
        """One line naming the file and the block, for the user."""
        if self.block.index == 0:
            return f"{self.block.path}: {self.reason}"
        first = next((ln.strip() for ln in self.block.search.splitlines() if ln.strip()), "(empty)")
        return f"{self.block.path}: block {self.block.index} ({first[:60]!r}) {self.reason}"


@dataclass
class EditResult:
    """What `apply_blocks` produced: the new text of every touched file, or the failures."""

    files: dict[str, str] = field(default_factory=dict)
    failures: list[BlockFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class MatchError(ValueError):
    """A search text matched no place, or several."""

    def __init__(self, reason: str, nearest: str = ""):
        super().__init__(reason)
        self.reason, self.nearest = reason, nearest


def _clean_path(line: str) -> str:
    return line.strip().strip("`*#:").strip().replace("\\", "/")


def parse_blocks(answer: str, default_path: str) -> list[EditBlock]:
    """The SEARCH/REPLACE blocks of a model answer, in order.

    A block's file is named on the line before its `<<<<<<< SEARCH`; without a name there it is
    the previous block's file, or `default_path`. Fence lines outside blocks are ignored.

    Raises:
        EditFormatError: no block at all, or a block left unterminated.
    """
    lines = answer.splitlines(keepends=True)
    blocks: list[EditBlock] = []
    path, previous = default_path, ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if not _SEARCH.match(line):
            if line.strip() and not _FENCE.match(line):
                previous = line
            i += 1
            continue
        candidate = _clean_path(previous)
        if candidate and _PATH.match(candidate):
            path = candidate
        search: list[str]
        replace: list[str]
        search, replace, part = [], [], "search"
        i += 1
        while i < len(lines):
            if part == "search" and _DIVIDER.match(lines[i]):
                part = "replace"
            elif part == "replace" and _REPLACE.match(lines[i]):
                break
            else:
                (search if part == "search" else replace).append(lines[i])
            i += 1
        else:
            raise EditFormatError(
                f"block {len(blocks) + 1} for `{path}` is not terminated: end it with `>>>>>>> REPLACE`"
            )
        blocks.append(EditBlock(path, _ending(search), _ending(replace), len(blocks) + 1))
        previous = ""
        i += 1
    if not blocks:
        raise EditFormatError(
            "the answer holds no SEARCH/REPLACE block: quote the lines to change between `<<<<<<< SEARCH` "
            "and `=======`, their replacement before `>>>>>>> REPLACE`"
        )
    return blocks


def _ending(lines: list[str]) -> str:
    text = "".join(lines)
    return text if not text or text.endswith("\n") else text + "\n"


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _trim_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def replace_once(text: str, search: str, replace: str) -> str:
    """`text` with the one place matching `search` replaced by `replace`.

    Raises:
        MatchError: no place matches, or several do at the first level that matches any.
    """
    if not search.strip():
        raise MatchError("has an empty SEARCH text; quote the lines to replace")
    count = text.count(search)
    if count == 1:
        return text.replace(search, replace, 1)
    if count > 1:
        raise MatchError(f"matches {count} places; add lines around it so it matches one")
    lines = text.splitlines(keepends=True)
    wanted = _trim_blank(search.splitlines(keepends=True))
    new = replace.splitlines(keepends=True)
    for level, key in ((1, str.rstrip), (2, str.strip)):
        keys = [key(line) for line in wanted]
        hits = [
            start
            for start in range(len(lines) - len(wanted) + 1)
            if all(key(lines[start + n]) == keys[n] for n in range(len(wanted)))
        ]
        if len(hits) > 1:
            raise MatchError(f"matches {len(hits)} places; add lines around it so it matches one")
        if hits:
            start = hits[0]
            end = start + len(wanted)
            if level == 2:
                new = _reindent(wanted, lines[start:end], new)
            if new and not new[-1].endswith("\n") and end < len(lines):
                new[-1] += "\n"
            return "".join(lines[:start] + new + lines[end:])
    raise MatchError("matches nothing in the file", nearest_text(lines, wanted))


def _reindent(wanted: list[str], found: list[str], new: list[str]) -> list[str]:
    """`new` shifted by the indentation the file has where the search text had another."""
    pair = next(((w, f) for w, f in zip(wanted, found, strict=True) if w.strip()), None)
    if pair is None:
        return new
    have, need = _indent(pair[0]), _indent(pair[1])
    shifted = []
    for line in new:
        if not line.strip():
            shifted.append(line)
        elif len(need) >= len(have):
            shifted.append(need[len(have) :] + line if line.startswith(have) else need + line.lstrip())
        else:
            shifted.append(line[len(have) - len(need) :] if line.startswith(have) else line.lstrip())
    return shifted


def nearest_text(lines: list[str], wanted: list[str]) -> str:
    """The file's lines most like `wanted`, with `CONTEXT_LINES` around them (empty for an empty file)."""
    if not lines:
        return ""
    size = max(1, min(len(wanted), len(lines)))
    target = "".join(line.strip() + "\n" for line in wanted)
    best, best_start = -1.0, 0
    starts = range(len(lines) - size + 1)
    if len(starts) > MAX_NEAREST_WINDOWS:
        starts = range(0, len(lines) - size + 1, len(starts) // MAX_NEAREST_WINDOWS + 1)
    for start in starts:
        window = "".join(line.strip() + "\n" for line in lines[start : start + size])
        matcher = difflib.SequenceMatcher(None, target, window, autojunk=False)
        found = sum(size for _, _, size in matcher.get_matching_blocks())
        ratio = found / max(1, len(target)) + matcher.ratio() / 100  # most of the search, then the closest
        if ratio > best:
            best, best_start = ratio, start
    first = max(0, best_start - CONTEXT_LINES)
    last = min(len(lines), best_start + size + CONTEXT_LINES)
    text = "".join(lines[first:last])
    return text if text.endswith("\n") else text + "\n"


def apply_blocks(files: Mapping[str, str], blocks: list[EditBlock]) -> EditResult:
    """Apply `blocks` in order to `files` (path -> text), all or nothing.

    Each block sees the text the blocks before it left. A block with an empty SEARCH creates its
    file when the file does not exist (or is empty). Every block is tried, so all failures are
    reported at once; with any failure, `files` of the result is empty and nothing may be written.
    """
    current: dict[str, str] = {}
    failures: list[BlockFailure] = []
    for block in blocks:
        text = current.get(block.path, files.get(block.path))
        if text is None or not text.strip():
            if block.search.strip():
                reason = "names a file that does not exist" if text is None else "searches a file that is empty"
                failures.append(BlockFailure(block, reason))
            else:
                current[block.path] = block.replace
            continue
        try:
            current[block.path] = replace_once(text, block.search, block.replace)
        except MatchError as error:
            failures.append(BlockFailure(block, error.reason, error.nearest))
    if failures:
        return EditResult(failures=failures)
    return EditResult(files=current)
