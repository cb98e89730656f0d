"""One process at a time per project: an exclusive lock the kernel releases when its owner dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from metagpt.exceptions import UserError


class ProjectBusyError(UserError):
    """Another process holds the project's lock."""


class ProjectLock:
    """`flock` on `<state dir>/lock`, holding the owner's pid for the error message.

    A killed owner's lock is released by the kernel, so a stale lock file never blocks.
    """

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / "lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise `ProjectBusyError` naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ProjectBusyError(
                f"Another MetaGPT process (pid {owner}) is running {self.path.parent.parent}; "
                "wait for it to end or stop it, then resume."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
