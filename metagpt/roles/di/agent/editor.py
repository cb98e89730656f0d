"""`Editor`: the agent's file commands, confined to its project folder.

Every path goes through `safe_relative_path` (no absolute paths outside, no `..`, no git files);
reads walk the path without following links (`utils/safe_read.py`), writes go through the
project (atomic, never through a link, secrets masked). The project's own files (`docs/`,
`logs/`, `.metagpt/`, the report, the agent's trace) are refused. A refusal is a `ToolFailure`,
which the agent sees as the command's observation.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from metagpt.const import BUNDLE_FILE, REPORT_FILE, RESERVED_NAMES
from metagpt.exceptions import ProjectFolderError
from metagpt.roles.di.agent.commands import ToolFailure
from metagpt.utils.paths import safe_relative_path
from metagpt.utils.safe_read import UnsafeFile, read_text, walk_files

AGENT_FILES = ("steps.jsonl", REPORT_FILE, BUNDLE_FILE, ".kernel")
"""Top-level names the agent's own run writes: never the agent's files."""
MAX_READ_CHARS = 20_000
"""Most characters `Editor.read` returns; the rest is cut with a note."""
MAX_FILE_BYTES = 4 << 20
MAX_HITS = 50
MAX_SEARCHED_FILES = 2000


class Editor:
    """Reads, writes, searches and edits text files inside one folder (the agent's project)."""

    def __init__(self, project) -> None:
        self.project = project
        """The `ProjectRepo` whose folder the editor may touch."""

    @property
    def root(self) -> Path:
        return self.project.path

    def _relative(self, path: str, writing: bool) -> str:
        raw = str(path).strip()
        if raw.startswith("/"):
            candidate = Path(raw)
            root = self.root.resolve()
            if not candidate.is_relative_to(root):
                raise ToolFailure(f"refused: {raw} is outside the project folder; use a path relative to it")
            raw = str(candidate.relative_to(root)) or "."
        try:
            relative = safe_relative_path(raw)
        except ValueError as exc:
            raise ToolFailure(f"refused: {exc}; paths stay inside the project folder") from None
        top = PurePosixPath(relative).parts[0]
        if top in RESERVED_NAMES or top in AGENT_FILES:
            kind = "written" if writing else "read"
            raise ToolFailure(f"refused: {top!r} holds the project's own files and is not {kind} by the agent")
        return relative

    def read(self, path: str) -> str:
        """Read a text file of the project folder.

        Args:
            path: the file, relative to the project folder, e.g. "notes.txt".
        """
        relative = self._relative(path, writing=False)
        try:
            text = read_text(self.root, relative, MAX_FILE_BYTES)
        except UnsafeFile as exc:
            raise ToolFailure(f"cannot read {relative}: {exc}") from None
        if len(text) > MAX_READ_CHARS:
            return text[:MAX_READ_CHARS] + f"\n[... cut: {len(text) - MAX_READ_CHARS} more characters]"
        return text

    def write(self, path: str, content: str) -> str:
        """Write a text file in the project folder (replacing it if it exists).

        Args:
            path: the file, relative to the project folder, e.g. "src/app.py".
            content: the whole new content of the file.
        """
        relative = self._relative(path, writing=True)
        try:
            written = self.project.write(relative, content)
        except (ValueError, ProjectFolderError) as exc:
            raise ToolFailure(f"refused: {exc}") from None
        where = written.relative_to(self.root).as_posix()
        given = str(path).strip()
        while given.startswith("./"):
            given = given[2:]
        note = f" (the path {path!r} was normalised)" if where != given else ""
        return f"wrote {where}: {len(content.encode('utf-8'))} bytes{note}"

    def replace(self, path: str, old: str, new: str) -> str:
        """Replace the one occurrence of `old` in a file with `new`.

        Args:
            path: the file, relative to the project folder.
            old: the exact text to replace; it must occur exactly once.
            new: the text to put instead.
        """
        relative = self._relative(path, writing=True)
        try:
            text = read_text(self.root, relative, MAX_FILE_BYTES)
        except UnsafeFile as exc:
            raise ToolFailure(f"cannot read {relative}: {exc}") from None
        count = text.count(old) if old else 0
        if count != 1:
            found = "does not occur" if count == 0 else f"occurs {count} times"
            raise ToolFailure(f"the text to replace {found} in {relative}; give text that occurs exactly once")
        return self.write(relative, text.replace(old, new, 1))

    def search(self, text: str, path: str = ".") -> str:
        """Find the lines that contain `text` in the project's files (or under one folder).

        Args:
            text: the text to look for (exact, case-sensitive).
            path: a folder or file to search in, relative to the project folder.
        """
        if not text:
            raise ToolFailure("give the text to search for")
        prefix = "" if str(path).strip() in ("", ".", "./") else self._relative(path, writing=False)
        hits: list[str] = []
        skip = frozenset(RESERVED_NAMES) | frozenset(AGENT_FILES)
        for n, (relative, note) in enumerate(walk_files(self.root, skip)):
            if n >= MAX_SEARCHED_FILES or len(hits) >= MAX_HITS:
                break
            name = relative.as_posix()
            if note or (prefix and name != prefix and not name.startswith(prefix + "/")):
                continue
            try:
                content = read_text(self.root, relative, MAX_FILE_BYTES)
            except UnsafeFile:
                continue
            for number, line in enumerate(content.splitlines(), 1):
                if text in line:
                    hits.append(f"{name}:{number}: {line.strip()[:200]}")
                    if len(hits) >= MAX_HITS:
                        break
        return "\n".join(hits) if hits else f"no line contains {text!r}"
