"""The generated project's history: a git repository in the project folder, one commit a stage.

History is a convenience for the user (`git log` shows how the project evolved), so it must
never fail a run: without `git` it is off (said once per process), and a failing git command
logs a warning and is skipped.

Git is our tool, not the repository's: generated code may have run in the project folder and
planted configuration that git would obey (a `[filter] clean = ...` command with an attribute
selecting it, a `core.worktree` pointing outside, a hook, an fsmonitor command). So every git
call

* gets an environment built from scratch (PATH, a private HOME, `LC_ALL=C`): no API key or
  other secret of ours can reach anything git starts;
* ignores the user's and the system's configuration (`GIT_CONFIG_GLOBAL=/dev/null`,
  `GIT_CONFIG_NOSYSTEM=1`) and sets hooks, fsmonitor, signing and prompts off on the command
  line, with the git folder and work tree named explicitly;
* runs after `.git/config` has been restored to exactly what we wrote and `.git/info/attributes`
  to `* -filter -diff -merge -text -ident -working-tree-encoding`, which outranks any
  `.gitattributes`, so no filter or conversion of the repository's runs;
* runs in its own process group with a time limit: a git that hangs is killed with all it
  started, and the `index.lock` it left behind is removed (the error names it).

The identity ("MetaGPT <metagpt@localhost>") goes in the repository's own config; the user's
global config is never written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path

from loguru import logger

from metagpt.utils.atomic import write_atomic
from metagpt.utils.faults import crash_point

AUTHOR_NAME = "MetaGPT"
AUTHOR_EMAIL = "metagpt@localhost"
IGNORED = ("__pycache__/", ".pytest_cache/", "/mermaid.min.js", "/.metagpt/", "/logs/")
"""Lines the project's `.gitignore` gets: files that running the code leaves behind, the
report's copy of the mermaid bundle (5 MB, copied again by every run), the project's state
(`.metagpt/`: the call journal) and the run's log (`logs/`): both hold every prompt and answer,
which stay private and are never committed."""
ATTRIBUTES = b"* -filter -diff -merge -text -ident -working-tree-encoding\n"
"""`.git/info/attributes`: outranks the tree's `.gitattributes`, so none of its filters or
conversions apply to our commits."""
PICTURES = tuple(f":(exclude)resources/*.{fmt}" for fmt in ("svg", "png", "pdf"))
"""Pathspecs keeping the rendered diagrams out of a stage's commit: they are drawn in the
background and arrive whenever the browser is done, so they all go in the run's last commit
("Diagrams and the project report") and every other commit holds the same files on every run."""
LOCK_FILE = "index.lock"
CONFIG = (
    "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n"
    f"\thooksPath = {os.devnull}\n\tfsmonitor = false\n"
    f"[user]\n\tname = {AUTHOR_NAME}\n\temail = {AUTHOR_EMAIL}\n"
).encode()
"""`.git/config`, whole: written at `init` and put back before every commit, whatever was added."""
GIT_TIMEOUT = 60.0
"""Seconds any one git command may take before it counts as failed."""

_SAFE_OPTIONS = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "diff.external=",
    "-c",
    "core.sshCommand=false",
    "-c",
    "init.defaultBranch=main",
)

_warned_missing = False


def _warn_git_missing() -> None:
    global _warned_missing
    if not _warned_missing:
        _warned_missing = True
        logger.warning("git not found: the project's history is off")


def git_env(home: Path) -> dict[str, str]:
    """Git's environment, from scratch: PATH, a private HOME and locale, git's safety switches.

    Nothing else of the parent's reaches git or anything it starts: no API key, no GIT_DIR.
    """
    return {
        "PATH": os.environ.get("PATH") or os.defpath,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "LC_ALL": "C",
        "LANG": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_ATTR_NOSYSTEM": "1",
    }


class _GitFailed(Exception):
    """A git command failed; caught inside this module and logged, never raised to callers."""


class GitHistory:
    """Commits the project folder at each stage; off without git.

    Args:
        path: the project folder; it becomes (or already is) the repository's top level.
    """

    ignored: tuple[str, ...] = IGNORED
    """The `.gitignore` lines this history adds."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = asyncio.Lock()
        self._failed = False
        self._ready = False
        self._config: bytes | None = CONFIG
        """`.git/config` as we write it; restored before every commit."""

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
        """Make the project folder a repository with our config (identity included) and a `.gitignore`.

        Safe to call again: an existing repository keeps its history; its config is replaced by ours.
        """
        if not self.enabled:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(self.path / ".git"):
                self._git("init", "-q", bare=True)
            self._restore()
            self._write_gitignore()
        except (_GitFailed, OSError) as error:
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
            except (_GitFailed, OSError) as error:
                logger.warning(f"could not record {message!r} in the project's history: {error}")
                return None

    def log(self) -> list[str]:
        """Subjects of the commits so far, oldest first; empty when there are none or it is off."""
        if not self.enabled or not (self.path / ".git").exists():
            return []
        try:
            self._restore()  # a planted `log.showSignature` + `gpg.program` would run on `git log`
            result = self._git("log", "--reverse", "--format=%s", check=False)
        except (_GitFailed, OSError):
            return []
        if result.returncode != 0:
            return []
        return result.stdout.splitlines()

    def _commit(self, message: str, pictures: bool) -> str | None:
        self._stage(pictures)
        crash_point("git")
        if self._git("diff", "--cached", "--quiet", "--no-ext-diff", "--no-textconv", check=False).returncode == 0:
            return None
        self._git("commit", "-q", "--no-verify", "-m", message)
        return self._git("rev-parse", "--short", "HEAD").stdout.strip()

    def _stage(self, pictures: bool) -> None:
        """`git add` everything, but the rendered diagrams only with `pictures` (see `PICTURES`)."""
        self.clear_stale_lock()
        self._restore()
        self._git("add", "-A", *(() if pictures else ("--", ".", *PICTURES)))

    def clear_stale_lock(self) -> bool:
        """Remove `.git/index.lock` when no git process works in this repository; True if removed.

        A git killed mid-command (a crash, a hang we ended) leaves the lock behind and every
        later command fails on it. A lock held by a live git (its working folder inside the
        project, per `/proc/*/cwd`) is left alone.
        """
        lock = self.path / ".git" / LOCK_FILE
        if not os.path.lexists(lock) or _git_running_in(self.path):
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
            raise _GitFailed(f"{self.path / '.git'} is not a folder (a link or a file); history is off")

    def _read_git_file(self, name: str) -> bytes | None:
        from metagpt.utils.safe_read import UnsafeFile, read_bytes

        try:
            return read_bytes(self.path, f".git/{name}", 1 << 20)
        except UnsafeFile:
            return None

    def _restore(self) -> None:
        """Put back `.git/config` as we wrote it and our `.git/info/attributes` (see the module doc)."""
        self._check_git_dir()
        for name, data in (("config", self._config), ("info/attributes", ATTRIBUTES)):
            if data is None or self._read_git_file(name) == data:
                continue
            target = self.path / ".git" / name
            if target.parent.is_symlink() or (target.parent.exists() and not target.parent.is_dir()):
                target.parent.unlink()  # a link planted for `info/` must not take our write outside
            target.parent.mkdir(exist_ok=True)
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            write_atomic(target, data)

    def _write_gitignore(self) -> None:
        """Add our lines to `.gitignore`; one that is a link or not a regular file is replaced."""
        from metagpt.utils.safe_read import UnsafeFile, read_text

        try:
            lines = read_text(self.path, ".gitignore").splitlines()
        except UnsafeFile:
            lines = []
        missing = [line for line in self.ignored if line not in lines]
        if missing or os.path.islink(self.path / ".gitignore"):
            write_atomic(self.path / ".gitignore", ("\n".join([*lines, *missing]) + "\n").encode("utf-8"))

    def _git(self, *args: str, check: bool = True, bare: bool = False) -> subprocess.CompletedProcess[str]:
        git = shutil.which("git")
        if git is None:
            raise _GitFailed("git not found")
        where = [] if bare else [f"--git-dir={self.path / '.git'}", f"--work-tree={self.path}"]
        with tempfile.TemporaryDirectory(prefix="metagpt-git-") as home:
            process = subprocess.Popen(
                [git, *where, *_SAFE_OPTIONS, *args],
                cwd=self.path,
                env=git_env(Path(home)),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,
            )
            try:
                stdout, stderr = process.communicate(timeout=GIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                lock = self.path / ".git" / LOCK_FILE
                removed = self.clear_stale_lock()
                note = f"; removed its stale lock {lock}" if removed else ""
                raise _GitFailed(f"git {args[0]} took longer than {GIT_TIMEOUT:g}s and was killed{note}") from None
            except BaseException:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise _GitFailed(f"git {args[0]} failed: {detail[-1] if detail else f'exit code {result.returncode}'}")
        return result


def _git_running_in(folder: Path) -> bool:
    """True when a process named git (or git-*) has its working folder inside `folder`."""
    root = os.path.realpath(folder)
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", encoding="utf-8", errors="replace") as file:
                comm = file.read().strip()
            if comm != "git" and not comm.startswith("git-"):
                continue
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            return True
    return False
