"""The generated project's history: a git repository in the project folder, one commit a stage.

What a run commits, and what no run ever commits, is decided here once (`NEVER_COMMITTED`,
`PICTURES`, `LAST_COMMIT`) for every kind of run (`docs/history.md` says it for each).

History is a convenience for the user (`git log -p` shows how the project evolved), so it must
never fail a run: without `git` it is off (said once per process), and a failing git command
logs a warning and is skipped.

Git is our tool, run as `metagpt.utils.git_safe` describes: our settings travel with each call
and nothing of ours is written into the repository's config or attributes. The identity
("MetaGPT <metagpt@localhost>") is one of those settings, so a repository's own `user.name`
stays, and the user's commits in a generated project are the user's.

What the user's git reads stays the user's: `.git/config` and `.git/info/attributes` are kept
as found when the history opens (their bytes, or that there is none). If code we ran changed
one (or planted a link in its place), it is put back before each commit and when the run ends;
what replaced it is moved aside as `<name>.changed-during-metagpt`, never deleted. What an
earlier version wrote is repaired on open: its `.git/info/attributes` (`* -filter -diff -merge
-text ...`, which made every file binary to git, so no diff, and every merge touching a file a
conflict) is removed, and its config in place of a repository's own is replaced by the copy it
kept (`.git/config.before-metagpt`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import cast

from loguru import logger

from metagpt.const import BUNDLE_FILE, LOGS_DIR, REPORT_FILE, STATE_DIR
from metagpt.utils.atomic import write_atomic
from metagpt.utils.faults import crash_point
from metagpt.utils.git_safe import SAFE_SETTINGS, GitFailed, GitTimedOut, git_running_in, neutralised, run_git
from metagpt.utils.safe_read import UnsafeFile, read_bytes, read_text

AUTHOR_NAME = "MetaGPT"
AUTHOR_EMAIL = "metagpt@localhost"
IDENTITY = (("user.name", AUTHOR_NAME), ("user.email", AUTHOR_EMAIL))
"""Who our commits are by: set per call, never written into a config."""
REPORT_FILES = (REPORT_FILE, BUNDLE_FILE)
"""The project report and its copy of the mermaid bundle (`metagpt.report`), at the folder's top."""
NEVER_COMMITTED = {
    "__pycache__/": "what running the code leaves behind",
    ".pytest_cache/": "what running the tests leaves behind",
    f"/{BUNDLE_FILE}": "the report's copy of the mermaid bundle (5 MB), copied again by every run",
    f"/{STATE_DIR}/": "the project's state: the call journal (every prompt and answer), the run lock, caches",
    f"/{LOGS_DIR}/": "the run's log, every prompt and answer included",
    f"/{REPORT_FILE}": "the project report: rebuilt from the documents, diagrams and code at every run's end, "
    "and it quotes the run's times and spend",
}
"""The history policy, the one place it is decided: what no run ever commits, as `.gitignore`
lines, each with why (`docs/history.md` is generated from this). Every run kind that keeps a
history applies it through `GitHistory.init` or `ChangeHistory` (the same lines, the same
`untrack_report`). The order is the order in a new `.gitignore`; a line added later goes last,
so a folder an earlier version set up ends with the same file as a new one."""
IGNORED = tuple(NEVER_COMMITTED)
"""Lines the project's `.gitignore` gets (see `NEVER_COMMITTED`)."""
PICTURES = tuple(f":(exclude)resources/*.{fmt}" for fmt in ("svg", "png", "pdf"))
"""Pathspecs keeping the rendered diagrams out of a stage's commit: they are drawn in the
background and arrive whenever the browser is done, so they all go in the run's last commit
(`LAST_COMMIT`) and every other commit holds the same files on every run."""
LAST_COMMIT = "Diagrams"
"""The subject of a run's last commit: the rendered diagrams, with whatever the run wrote after
its last stage's commit (a change names itself first: `Change 0001 (...): diagrams`)."""
LOCK_FILE = "index.lock"
KEPT = ("config", "info/attributes")
"""The files under `.git` that say how the user's git behaves, kept as found (see the module doc)."""
ASIDE = ".changed-during-metagpt"
"""Suffix of what replaced a kept file during a run, moved aside when the file is put back."""
LEGACY_ATTRIBUTES = b"* -filter -diff -merge -text -ident -working-tree-encoding\n"
"""`.git/info/attributes` as versions before this one wrote it (removed on open)."""
LEGACY_CONFIG = (
    "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n"
    f"\thooksPath = /dev/null\n\tfsmonitor = false\n[user]\n\tname = {AUTHOR_NAME}\n\temail = {AUTHOR_EMAIL}\n"
).encode()
"""`.git/config` as versions before this one wrote it over a repository's own."""
LEGACY_BACKUP = "config.before-metagpt"
"""Where those versions kept the repository's own config (put back on open)."""
MAX_KEPT_BYTES = 1 << 20

_UNSAFE = object()
"""A kept file's state when a link, a folder or a pipe is in its place."""
_warned_missing = False


def _warn_git_missing() -> None:
    global _warned_missing
    if not _warned_missing:
        _warned_missing = True
        logger.warning("git not found: the project's history is off")


class GitHistory:
    """Commits the project folder at each stage; off without git.

    Args:
        path: the project folder; it becomes (or already is) the repository's top level.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = asyncio.Lock()
        self._failed = False
        self._ready = False
        self._kept: dict[str, bytes | None] | None = None
        """`KEPT` files as found when the history opened (None: there was none); one that was
        not a plain file then (a link, a pipe) is not kept, so never put back."""

    @property
    def enabled(self) -> bool:
        """False when `git` is not on PATH or setting up the repository failed."""
        if self._failed:
            return False
        if shutil.which("git") is None:
            _warn_git_missing()
            return False
        return True

    def init(self) -> None:
        """Make the project folder a repository (when it is none) that follows the history policy
        (`NEVER_COMMITTED`): our `.gitignore` lines, and no report an earlier version committed.

        Safe to call again: an existing repository keeps its history and its config.
        """
        if not self.enabled:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(self.path / ".git"):
                self._git("init", "-q", bare=True)
            self._adopt()
            self._write_gitignore()
            self._untrack_report()
        except (GitFailed, OSError) as error:
            self._failed = True
            logger.warning(f"the project's history is off: git init failed in {self.path}: {error}")
            return
        self._ready = True

    async def commit(self, message: str, pictures: bool = False) -> str | None:
        """Stage everything (the rendered diagrams only with `pictures`) and commit it with `message`.

        Commits are serialised, so roles may call this concurrently; git runs in a worker
        thread, not on the event loop. The repository is set up first if `init` was not called.

        Returns:
            The new commit's short sha; None when nothing changed, history is off, or git failed
            (which is logged as a warning).
        """
        async with self._lock:
            if not self._ready:
                await asyncio.to_thread(self.init)
            if not self.enabled or not self._ready:
                return None
            try:
                return await asyncio.to_thread(self._commit, message, pictures)
            except (GitFailed, OSError) as error:
                logger.warning(f"could not record {message!r} in the project's history: {error}")
                return None

    def log(self) -> list[str]:
        """Subjects of the commits so far, oldest first; empty when there are none or it is off."""
        if not self.enabled or not (self.path / ".git").exists():
            return []
        try:
            result = self._git("log", "--reverse", "--format=%s", check=False)
        except (GitFailed, OSError):
            return []
        if result.returncode != 0:
            return []
        return result.stdout.splitlines()

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one git command in the project folder, as safely as every command here (`git_safe`).

        Raises:
            GitFailed: git is missing, or (with `check`) the command failed.
        """
        return self._git(*args, check=check)

    def put_back(self) -> None:
        """Put a kept file that changed since the history opened back as it was (see the module
        doc); what replaced it is moved aside. Failures are logged, never raised."""
        try:
            for name, kept in (self._kept or {}).items():
                if self._found(name) != kept:
                    self._put_back(name, kept)
        except (GitFailed, OSError) as error:
            logger.warning(f"could not put back {self.path / '.git'}'s config and attributes: {error}")

    def _commit(self, message: str, pictures: bool) -> str | None:
        self._stage(pictures)
        crash_point("git")
        if self._git("diff", "--cached", "--quiet", "--no-ext-diff", "--no-textconv", check=False).returncode == 0:
            return None
        self._git("commit", "-q", "--no-verify", "-m", message)
        return self._git("rev-parse", "--short", "HEAD").stdout.strip()

    def _stage(self, pictures: bool) -> None:
        """`git add` everything, but the rendered diagrams only with `pictures` (see `PICTURES`).

        A nested repository's gitlink is left as it is: `git add` would run `git status` inside
        it, where its own config's drivers are not ours to neutralise (see `git_safe`).
        """
        self.clear_stale_lock()
        self.put_back()
        entries = self._git("ls-files", "--stage", "-z").stdout.split("\0")
        nested = [f":(exclude,literal){entry.split(chr(9), 1)[1]}" for entry in entries if entry.startswith("160000 ")]
        self._git("add", "-A", "--", ".", *(() if pictures else PICTURES), *nested)

    def clear_stale_lock(self) -> bool:
        """Remove `.git/index.lock` when no git process works in this repository; True if removed.

        A git killed mid-command (a crash, a hang we ended) leaves the lock behind and every
        later command fails on it. A lock held by a live git (its working folder inside the
        project, per `/proc/*/cwd`) is left alone.
        """
        lock = self.path / ".git" / LOCK_FILE
        if not os.path.lexists(lock) or git_running_in(self.path):
            return False
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
            logger.warning(f"removed a stale git lock: {lock}")
            return True
        return False

    def _check_git_dir(self) -> None:
        """`.git` must be a real folder of ours: a link or a `gitdir:` file would redirect git."""
        info = os.lstat(self.path / ".git")
        if not stat.S_ISDIR(info.st_mode):
            raise GitFailed(f"{self.path / '.git'} is not a folder (a link or a file); history is off")

    def _adopt(self) -> None:
        """Take an existing repository as found: repair what an earlier version wrote, keep `KEPT`."""
        self._check_git_dir()
        config = self.path / ".git" / "config"
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISREG(os.stat(config).st_mode):  # git would block reading a pipe
                raise GitFailed(f"{config} is not a plain file (a pipe or a device); history is off")
        if self._kept is not None:
            return
        self._repair_legacy()
        found = {name: self._found(name) for name in KEPT}
        self._kept = {name: cast("bytes | None", state) for name, state in found.items() if state is not _UNSAFE}

    def _found(self, name: str) -> bytes | object | None:
        """`.git/<name>` now: its bytes, None when there is none, `_UNSAFE` for anything but a
        plain file under plain folders (a link is never followed)."""
        parts = name.split("/")
        where = self.path / ".git"
        for index, part in enumerate(parts):
            where = where / part
            try:
                mode = os.lstat(where).st_mode
            except FileNotFoundError:
                return None
            if not (stat.S_ISREG(mode) if index == len(parts) - 1 else stat.S_ISDIR(mode)):
                return _UNSAFE
        try:
            return read_bytes(self.path, f".git/{name}", MAX_KEPT_BYTES)
        except UnsafeFile:
            return _UNSAFE

    def _put_back(self, name: str, kept: bytes | None) -> None:
        self._check_git_dir()
        target = self.path / ".git" / name
        moved = []
        for path in (target.parent, target):  # `info/` first: through a planted link, nothing moves outside
            if path == self.path / ".git" or not os.path.lexists(path):
                continue
            if path == target or not stat.S_ISDIR(os.lstat(path).st_mode):
                moved.append(_move_aside(path))
        if kept is not None:
            target.parent.mkdir(exist_ok=True)
            write_atomic(target, kept)
        shown = ", ".join(str(path) for path in moved) or "nothing"
        logger.warning(f"{target} changed during the run and is put back as it was (moved aside: {shown})")

    def _repair_legacy(self) -> None:
        """Undo what versions before this one wrote into the repository (see the module doc)."""
        git_dir = self.path / ".git"
        if self._found("info/attributes") == LEGACY_ATTRIBUTES:
            (git_dir / "info" / "attributes").unlink()
            logger.info(f"removed {git_dir / 'info' / 'attributes'}, written by an earlier MetaGPT")
        backup = self._found(LEGACY_BACKUP)
        if isinstance(backup, bytes) and self._found("config") == LEGACY_CONFIG:
            write_atomic(git_dir / "config", backup)
            (git_dir / LEGACY_BACKUP).unlink()
            logger.info(f"put back {git_dir / 'config'} from {LEGACY_BACKUP}, replaced by an earlier MetaGPT")

    def _write_gitignore(self) -> None:
        """Add our lines to `.gitignore`; one that is a link or not a regular file is replaced."""
        try:
            lines = read_text(self.path, ".gitignore").splitlines()
        except UnsafeFile:
            lines = []
        missing = [line for line in IGNORED if line not in lines]
        if missing or os.path.islink(self.path / ".gitignore"):
            write_atomic(self.path / ".gitignore", ("\n".join([*lines, *missing]) + "\n").encode("utf-8"))

    def _untrack_report(self) -> None:
        """Stop tracking a report an earlier version committed: the files stay, ignored from now
        on, and the next commit records that they left the history."""
        self._git("rm", "-q", "--cached", "--ignore-unmatch", "--", *(f":(literal){name}" for name in REPORT_FILES))

    def _git(self, *args: str, check: bool = True, bare: bool = False) -> subprocess.CompletedProcess[str]:
        """Run git in the project (see `git_safe`); `bare` names neither git folder nor work tree (`init`)."""
        git = shutil.which("git")
        if git is None:
            raise GitFailed("git not found")
        where = []
        settings = [*SAFE_SETTINGS, *IDENTITY]
        if not bare:
            self._check_git_dir()
            where = [f"--git-dir={self.path / '.git'}", f"--work-tree={self.path}"]
        try:
            if not bare:
                listing = [*where, "config", "--list", "--null", "--name-only"]
                listed = run_git(git, listing, self.path, settings)
                if listed.returncode != 0:
                    raise GitFailed(f"git {args[0]} failed: cannot read the config: {_last_line(listed)}")
                settings += neutralised(listed.stdout.split("\0"))
            result = run_git(git, [*where, *args], self.path, settings)
        except GitTimedOut as error:
            lock = self.path / ".git" / LOCK_FILE
            note = f"; removed its stale lock {lock}" if self.clear_stale_lock() else ""
            raise GitFailed(f"{error}{note}") from None
        if check and result.returncode != 0:
            raise GitFailed(f"git {args[0]} failed: {_last_line(result)}")
        return result


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    detail = (result.stderr or result.stdout).strip().splitlines()
    return detail[-1] if detail else f"exit code {result.returncode}"


def _move_aside(path: Path) -> Path:
    """Rename `path` (whatever it is; a link is not followed) to a free `<name>.changed-during-metagpt[.N]`."""
    for number in range(100):
        aside = path.with_name(path.name + ASIDE + (f".{number}" if number else ""))
        if not os.path.lexists(aside):
            os.replace(path, aside)
            return aside
    raise OSError(f"no free name to move {path} aside")
