"""The generated project's history: a git repository in the project folder, one commit a stage.

History is a convenience for the user (`git log` shows how the project evolved), so it must
never fail a run: without `git` it is off (said once per process), and a failing git command
logs a warning and is skipped.

Git runs with the user's global and system configuration ignored where git allows it
(`GIT_CONFIG_GLOBAL=/dev/null`, `GIT_CONFIG_NOSYSTEM=1`), and with hooks, signing and prompts
off, so that a user's global hooks, GPG set-up or credential helpers neither run nor block. The
identity ("MetaGPT <metagpt@localhost>") goes in the repository's own config; the user's global
config is never written.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

from loguru import logger

from metagpt.utils.faults import crash_point

AUTHOR_NAME = "MetaGPT"
AUTHOR_EMAIL = "metagpt@localhost"
IGNORED = ("__pycache__/", ".pytest_cache/", "/mermaid.min.js", "/.metagpt/")
"""Lines the project's `.gitignore` gets: files that running the code leaves behind, and the
report's copy of the mermaid bundle (5 MB, copied again by every run), and the project's state
(`.metagpt/`: the call journal holds every prompt and answer)."""
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
    "init.defaultBranch=main",
)

_warned_missing = False


def _warn_git_missing() -> None:
    global _warned_missing
    if not _warned_missing:
        _warned_missing = True
        logger.warning("git not found: the project's history is off")


def _git_env() -> dict[str, str]:
    """The parent's environment without git's own variables (a GIT_DIR would redirect us)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_OPTIONAL_LOCKS="0",
        LC_ALL="C",
    )
    return env


class _GitFailed(Exception):
    """A git command failed; caught inside this module and logged, never raised to callers."""


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
        """Make the project folder a repository with a local identity and a `.gitignore`.

        Safe to call again: an existing repository is kept, missing settings are added.
        """
        if not self.enabled:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if not (self.path / ".git").exists():
                self._git("init", "-q")
            for key, value in (("user.name", AUTHOR_NAME), ("user.email", AUTHOR_EMAIL)):
                if self._git("config", "--local", "--get", key, check=False).returncode != 0:
                    self._git("config", "--local", key, value)
            self._write_gitignore()
        except (_GitFailed, OSError) as error:
            self._failed = True
            logger.warning(f"the project's history is off: git init failed in {self.path}: {error}")
            return
        self._ready = True

    async def commit(self, message: str) -> str | None:
        """Stage everything and commit it with `message`.

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
                return await asyncio.to_thread(self._commit, message)
            except (_GitFailed, OSError) as error:
                logger.warning(f"could not record {message!r} in the project's history: {error}")
                return None

    def log(self) -> list[str]:
        """Subjects of the commits so far, oldest first; empty when there are none or it is off."""
        if not self.enabled or not (self.path / ".git").exists():
            return []
        result = self._git("log", "--reverse", "--format=%s", check=False)
        if result.returncode != 0:
            return []
        return result.stdout.splitlines()

    def _commit(self, message: str) -> str | None:
        self._git("add", "-A")
        crash_point("git")
        if self._git("diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        self._git("commit", "-q", "--no-verify", "-m", message)
        return self._git("rev-parse", "--short", "HEAD").stdout.strip()

    def _write_gitignore(self) -> None:
        gitignore = self.path / ".gitignore"
        lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
        missing = [line for line in IGNORED if line not in lines]
        if missing:
            gitignore.write_text("\n".join([*lines, *missing]) + "\n", encoding="utf-8")

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        git = shutil.which("git")
        if git is None:
            raise _GitFailed("git not found")
        try:
            result = subprocess.run(
                [git, *_SAFE_OPTIONS, *args],
                cwd=self.path,
                env=_git_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=GIT_TIMEOUT,
            )
        except subprocess.TimeoutExpired as error:
            raise _GitFailed(f"git {args[0]} took longer than {GIT_TIMEOUT:g}s") from error
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise _GitFailed(f"git {args[0]} failed: {detail[-1] if detail else f'exit code {result.returncode}'}")
        return result
