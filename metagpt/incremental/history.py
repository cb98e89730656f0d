"""The git history a change is made on: the base commit, the stage commits, and the way back.

Changing a project needs its history (the base commit must stay an ancestor, a failed change
must leave the tree as it was), so here a git failure is an error, not a warning. Every command
still runs the way `GitHistory` runs them: scrubbed environment, our config put back first, no
filter, hook or fsmonitor of the repository's.
"""

from __future__ import annotations

import asyncio
import os

from metagpt.exceptions import HistoryError
from metagpt.utils.atomic import write_atomic
from metagpt.utils.git_history import CONFIG, GitHistory, _GitFailed

FOREIGN_CONFIG = "config.before-metagpt"
"""Where a repository's own `.git/config` is kept when ours replaces it (remotes, branches...)."""


class ChangeHistory(GitHistory):
    """A project's git history, required: every failure raises `HistoryError`."""

    def open(self) -> bool:
        """Use the folder's repository, making one when there is none; True when it was made.

        A repository whose config is not ours keeps it as `.git/config.before-metagpt` (once)
        before ours replaces it. The `.gitignore` lines are not added here (see `ignore_state`),
        so a working tree can be checked for changes first.
        """
        if not self.enabled:
            raise HistoryError("Changing a project needs git, and git was not found: install git and run again.")
        try:
            if not os.path.lexists(self.path / ".git"):
                self.init()
                if not self._ready:
                    raise HistoryError(f"Could not make {self.path} a git repository; see the warning above.")
                return True
            self._check_git_dir()
            found = self._read_git_file("config")
            backup = self.path / ".git" / FOREIGN_CONFIG
            if found is not None and found != CONFIG and not os.path.lexists(backup):
                write_atomic(backup, found)
            self._restore()
        except (_GitFailed, OSError) as error:
            raise HistoryError(f"Cannot use the git history of {self.path}: {error}") from None
        self._ready = True
        return False

    def query(self, *args: str, check: bool = True) -> str:
        """The output of one git command (after our config is put back).

        Raises:
            HistoryError: git failed, naming the command.
        """
        try:
            self._restore()
            result = self._git(*args, check=check)
        except (_GitFailed, OSError) as error:
            raise HistoryError(f"git {args[0]} failed in {self.path}: {error}") from None
        return result.stdout

    def head(self) -> str | None:
        """The full sha of HEAD; None in a repository with no commit yet."""
        out = self.query("rev-parse", "--verify", "-q", "HEAD", check=False).strip()
        return out or None

    def dirty(self) -> list[str]:
        """`git status --porcelain` lines: changed, staged and untracked files (ignored ones are not)."""
        return self.query("status", "--porcelain", "--untracked-files=all").splitlines()

    def ignore_state(self) -> None:
        """Add our lines to `.gitignore` (the journal, logs, caches are never committed)."""
        try:
            self._write_gitignore()
        except OSError as error:
            raise HistoryError(f"Cannot write {self.path / '.gitignore'}: {error}") from None

    def commit_now(self, message: str) -> str | None:
        """Commit everything with `message` in this thread; the new sha, or None when nothing changed.

        Raises:
            HistoryError: git failed.
        """
        try:
            sha = self._commit(message)
        except (_GitFailed, OSError) as error:
            raise HistoryError(f"Could not commit {message!r} in {self.path}: {error}") from None
        return None if sha is None else self.head()

    async def record(self, message: str) -> str | None:
        """Commit everything with `message`; the new sha, or None when nothing changed.

        Raises:
            HistoryError: git failed.
        """
        async with self._lock:
            return await asyncio.to_thread(self.commit_now, message)

    def changed_files(self, base: str, head: str = "HEAD") -> list[str]:
        """Paths that differ between `base` and `head` (renames as a deletion and an addition)."""
        return self.query("diff", "--name-only", "--no-renames", "--no-ext-diff", base, head).splitlines()

    def diff(self, base: str, head: str = "HEAD") -> str:
        """The patch from `base` to `head`."""
        return self.query("diff", "--text", "--no-ext-diff", "--no-textconv", "--no-color", base, head)

    def is_ancestor(self, older: str, newer: str = "HEAD") -> bool:
        try:
            self._restore()
            return self._git("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0
        except (_GitFailed, OSError) as error:
            raise HistoryError(f"git merge-base failed in {self.path}: {error}") from None

    def restore_tree(self, base: str) -> None:
        """Make the index and the working tree those of `base` (tracked files only; ignored ones stay)."""
        self.query("read-tree", "--reset", "-u", base)

    def log(self, base: str | None = None) -> list[str]:  # type: ignore[override]
        """Subjects of the commits after `base` (all without one), oldest first."""
        if base is None:
            return super().log()
        return self.query("log", "--reverse", "--format=%s", f"{base}..HEAD").splitlines()
