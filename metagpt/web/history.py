"""A project's git history for the browser: commits with their files, and one commit's diff.

Git runs as everywhere in the project (`GitHistory.git`, through `utils.git_safe`): the
repository's own config and hooks, which generated code could have written, are neutralised.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from metagpt.utils.git_safe import GitFailed

MAX_DIFF_CHARS = 400_000
"""Longer diffs are cut (the page says so)."""
_SHA = re.compile(r"[0-9a-f]{7,40}")
_ROLE = re.compile(r"[A-Za-z][A-Za-z0-9_ ]{0,60}")
_ACTION = re.compile(r"[A-Z][A-Za-z0-9_]{0,60}")
"""A stage's commit is named `Role: Action` (`Product Manager: WritePRD`); others (`Change 0001
(...): code`, `Code review`) name no message."""


@dataclass
class Commit:
    sha: str
    subject: str
    time: int
    files: list[str] = field(default_factory=list)
    written: float = 0.0
    """When the commit object was written (its loose object's mtime, to the nanosecond), else
    the end of its commit-time second: orders commits among journal steps."""

    @property
    def steps(self) -> list[tuple[str, str]]:
        """The (role, action) pairs a stage's commit is named after (`Role: Action; Role: Action`)."""
        pairs = []
        for part in self.subject.split("; "):
            role, sep, action = part.partition(": ")
            if sep and _ROLE.fullmatch(role) and _ACTION.fullmatch(action):
                pairs.append((role, action))
        return pairs

    def as_dict(self) -> dict:
        return {"sha": self.sha, "subject": self.subject, "time": self.time, "files": self.files}


def _history(root: Path):
    from metagpt.utils.git_history import GitHistory

    return GitHistory(root)


def has_history(root: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(root / ".git").st_mode) and os.path.lexists(root / ".git" / "HEAD")
    except OSError:
        return False


def head_signature(root: Path) -> tuple[int, int] | None:
    """Cheap change detection without running git: the mtime and size of the HEAD reflog."""
    for name in ("logs/HEAD", "HEAD"):
        try:
            info = os.lstat(root / ".git" / name)
        except OSError:
            continue
        return info.st_mtime_ns, info.st_size
    return None


def commits(root: Path) -> list[Commit]:
    """Every commit, oldest first, with the files it changed; empty without a history or git."""
    if not has_history(root):
        return []
    history = _history(root)
    if not history.enabled:
        return []
    try:
        result = history.git(
            "log", "--reverse", "--no-color", "--no-renames", "--name-only", "--format=%x01%H%x00%ct%x00%s", check=False
        )
    except (GitFailed, OSError):
        return []
    if result.returncode != 0:
        return []
    found = []
    for block in result.stdout.split("\x01")[1:]:
        head, _, names = block.partition("\n")
        sha, ct, subject = ([*head.split("\0"), "", ""])[:3]
        files = [line for line in names.splitlines() if line.strip()]
        found.append(Commit(sha, subject, int(ct or 0), files, _written(root, sha, int(ct or 0))))
    return found


def _written(root: Path, sha: str, ct: int) -> float:
    try:
        return os.lstat(root / ".git" / "objects" / sha[:2] / sha[2:]).st_mtime
    except OSError:  # packed: only the second is known
        return ct + 0.999


class CommitCache:
    """Each project's commits, read again only when its HEAD moved (`head_signature`): one git
    run per new commit, however many pages and streams show the project."""

    def __init__(self) -> None:
        self._found: dict[Path, tuple[tuple[int, int] | None, list[Commit]]] = {}
        self._lock = threading.Lock()

    def __call__(self, root: Path) -> list[Commit]:
        signature = head_signature(root)
        with self._lock:
            known = self._found.get(root)
        if known is not None and known[0] == signature and signature is not None:
            return known[1]
        found = commits(root)
        with self._lock:
            self._found[root] = (signature, found)
        return found


def diff(root: Path, sha: str) -> str | None:
    """The patch of one commit (its files' changes), or None when there is no such commit."""
    if not _SHA.fullmatch(sha) or not has_history(root):
        return None
    history = _history(root)
    if not history.enabled:
        return None
    try:
        result = history.git("show", "--no-color", "--format=%H %s", "--patch", "--no-ext-diff", sha, check=False)
    except (GitFailed, OSError):
        return None
    if result.returncode != 0:
        return None
    text = result.stdout
    if len(text) > MAX_DIFF_CHARS:
        text = text[:MAX_DIFF_CHARS] + f"\n[... diff cut at {MAX_DIFF_CHARS:,} characters ...]\n"
    return text
