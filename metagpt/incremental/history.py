"""The git history a change is made on: the base commit, the stage commits, and the way back.

Changing a project needs its history (the base commit must stay an ancestor, a failed change
must leave the tree as it was), so here a git failure is an error, not a warning. Every command
still runs the way `GitHistory` runs them (see `metagpt.utils.git_safe`): scrubbed environment,
our settings per call, no filter, driver, hook or fsmonitor of the repository's. The user's
repository keeps its own config, remotes, identity and attributes: nothing of ours is written
there, and what code we ran changed in them is put back (`GitHistory.put_back`). Which files
are history is decided as for every run (`git_history.NEVER_COMMITTED`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from loguru import logger

from metagpt.exceptions import HistoryError
from metagpt.utils.faults import crash_point
from metagpt.utils.git_history import GitHistory
from metagpt.utils.git_safe import GitFailed

RESUME_REF = "refs/metagpt/interrupted"
"""The tip of an interrupted change's commits while it resumes (so a second crash loses none)."""


class ChangeHistory(GitHistory):
    """A project's git history, required: every failure raises `HistoryError`.

    While an interrupted change resumes (`rewind`), `reuse` holds the commits its finished stages
    made, oldest first: a stage that commits the same tree with the same message on the same
    parent takes the old commit back instead of making a new one, so finished stages keep their
    commits (and shas).
    """

    def __init__(self, path):
        super().__init__(path)
        self.reuse: list[str] = []

    def open(self) -> bool:
        """Use the folder's repository, making one when there is none; True when it was made.

        An existing repository is taken as found (its config and attributes are kept, see
        `GitHistory.put_back`). The `.gitignore` lines are not added here (see `ignore_state`),
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
            self._adopt()
        except (GitFailed, OSError) as error:
            raise HistoryError(f"Cannot use the git history of {self.path}: {error}") from None
        self._ready = True
        return False

    def query(self, *args: str, check: bool = True) -> str:
        """The output of one git command.

        Raises:
            HistoryError: git failed, naming the command.
        """
        try:
            result = self._git(*args, check=check)
        except (GitFailed, OSError) as error:
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
        """Add the history policy's lines to `.gitignore` (`git_history.NEVER_COMMITTED`: the
        journal, logs, caches and the report are never committed)."""
        try:
            self._write_gitignore()
        except OSError as error:
            raise HistoryError(f"Cannot write {self.path / '.gitignore'}: {error}") from None

    def untrack_report(self) -> None:
        """Stop tracking a report an earlier run committed (the files stay, ignored from now on)."""
        try:
            self._untrack_report()
        except (GitFailed, OSError) as error:
            raise HistoryError(f"git rm failed in {self.path}: {error}") from None

    def commit_now(self, message: str, pictures: bool = True) -> str | None:
        """Commit everything (the rendered diagrams only with `pictures`) with `message` in this
        thread; the new sha, or None when nothing changed.

        Raises:
            HistoryError: git failed.
        """
        try:
            sha = self._commit(message, pictures)
        except (GitFailed, OSError) as error:
            raise HistoryError(f"Could not commit {message!r} in {self.path}: {error}") from None
        return None if sha is None else self.head()

    async def record(self, message: str) -> str | None:
        """Commit a stage's work with `message` (not the diagrams still being drawn: the change's
        last commit takes them); the new sha, or None when nothing changed.

        Raises:
            HistoryError: git failed.
        """
        async with self._lock:
            return await asyncio.to_thread(self.commit_now, message, False)

    def changed_files(self, base: str, head: str = "HEAD") -> list[str]:
        """Paths that differ between `base` and `head` (renames as a deletion and an addition)."""
        names = self.query("diff", "--name-only", "--no-renames", "--no-ext-diff", "--no-textconv", base, head)
        return names.splitlines()

    def diff(self, base: str, head: str = "HEAD") -> str:
        """The patch from `base` to `head`."""
        return self.query("diff", "--text", "--no-ext-diff", "--no-textconv", "--no-color", base, head)

    def is_ancestor(self, older: str, newer: str = "HEAD") -> bool:
        try:
            return self._git("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0
        except (GitFailed, OSError) as error:
            raise HistoryError(f"git merge-base failed in {self.path}: {error}") from None

    def restore_tree(self, base: str) -> None:
        """Make the index and the working tree those of `base` (tracked files only; ignored ones stay)."""
        self.query("read-tree", "--reset", "-u", base)

    def log(self, base: str | None = None) -> list[str]:
        """Subjects of the commits after `base` (all without one), oldest first."""
        if base is None:
            return super().log()
        return self.query("log", "--reverse", "--format=%s", f"{base}..HEAD").splitlines()

    # -- resuming an interrupted change -------------------------------------------------------

    def rewind(self, base: str) -> list[str]:
        """Put the tree back to `base` to replay an interrupted change; returns its old commits.

        The commits made after `base` (by the interrupted run, or by an earlier resume that was
        itself killed: `RESUME_REF` keeps the longest chain) become `reuse`. What the tree holds
        uncommitted (the killed stage's files, or edits made since) is saved as a git stash,
        never dropped; replaying the stage writes its files again. Ignored files (the journal,
        logs) stay where they are.
        """
        head = self.head()
        if head is None or not self.is_ancestor(base, head):
            raise HistoryError(f"The change's base commit {base[:8]} is no longer in the history of {self.path}.")
        kept = self.query("rev-parse", "--verify", "-q", RESUME_REF, check=False).strip()
        tip = kept if kept and self.is_ancestor(head, kept) else head
        self.query("update-ref", RESUME_REF, tip)
        self.clear_stale_lock()
        if self.query("status", "--porcelain", "--untracked-files=all").strip():
            # the killed stage's leftovers, or a person's edits since the kill: kept, never dropped
            self.query("stash", "push", "-q", "--include-untracked", "-m", "metagpt: left by a killed change")
            logger.warning(f"Kept what {self.path} held uncommitted as a git stash (git stash pop brings it back).")
        self.query("reset", "-q", "--hard", base)
        self.reuse = self.query("rev-list", "--reverse", "--first-parent", f"{base}..{tip}").split()
        return list(self.reuse)

    def forget_interrupted(self) -> None:
        """Drop `RESUME_REF` once the change finished (its commits are HEAD's or were replaced),
        and the folder git made for it: the repository is left with none of our refs."""
        self.query("update-ref", "-d", RESUME_REF, check=False)
        with contextlib.suppress(OSError):  # only while empty; a link is not a folder to rmdir
            os.rmdir(self.path / ".git" / os.path.dirname(RESUME_REF))

    def _commit(self, message: str, pictures: bool) -> str | None:
        if not self.reuse:
            return super()._commit(message, pictures)
        self._stage(pictures)
        crash_point("git")
        if self._git("diff", "--cached", "--quiet", "--no-ext-diff", "--no-textconv", check=False).returncode == 0:
            return None
        old = self.reuse[0]
        shown = self._git("show", "-s", "--format=%P%n%T%n%B", old).stdout.split("\n", 2)
        parent, tree, body = shown[0].strip(), shown[1].strip(), shown[2] if len(shown) > 2 else ""
        if parent == self.head() and tree == self._git("write-tree").stdout.strip() and body.strip() == message.strip():
            self._git("update-ref", "HEAD", old)
            self.reuse.pop(0)
            return old[:7]
        logger.info(f"{message}: the stage's result differs from the interrupted run's; new commits from here")
        self.reuse.clear()
        self._git("commit", "-q", "--no-verify", "-m", message)
        return self._git("rev-parse", "--short", "HEAD").stdout.strip()
