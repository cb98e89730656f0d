"""Atomic, link-safe file writes: a kill at any moment leaves the old file or the new one.

`write_atomic` writes to a temporary file in the target's folder, created with a random name
and `O_CREAT | O_EXCL | O_NOFOLLOW` (so a link or file planted at a predictable name is never
written through), flushes and fsyncs it, renames it over the target and fsyncs the folder.
Temporary names end in `TMP_SUFFIX`, so a crash's leftovers are recognised and removed by
`remove_leftovers`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from metagpt.utils.safe_read import UnsafeFile

TMP_SUFFIX = ".mgtmp"
"""The ending of every temporary file `write_atomic` creates."""

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _crash_point(name: str) -> None:
    from metagpt.utils.faults import crash_point

    crash_point(name)


def write_atomic(path: Path | str, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically and durably.

    Raises:
        OSError: the folder cannot hold the file (the target is left as it was).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name[:80]}.{secrets.token_hex(6)}{TMP_SUFFIX}")
    fd = os.open(tmp, _FLAGS, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            handle.flush()
            _crash_point("file")  # a kill here leaves half a temporary file, never half a target
            handle.write(data[half:])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_leftovers(root: Path) -> list[Path]:
    """Delete the temporary files an interrupted `write_atomic` left under `root` (not in `.git`).

    Returns the files removed. Links and non-files with the suffix are left alone.
    """
    removed = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                candidate = Path(folder) / name
                if candidate.is_file() and not candidate.is_symlink():
                    candidate.unlink()
                    removed.append(candidate)
    return removed


_APPEND_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


def append_line(path: Path | str, line: str, mode: int = 0o644) -> None:
    """Append one line to `path` in a single `write`, durably, never through a link.

    The line (a newline is added) goes out in one `O_APPEND` write, so a reader sees it whole or
    not at all, except after a crash mid-write, which can leave only a last line cut short (a
    reader of such a log skips a last line that does not parse).

    Opened non-blocking and checked to be a regular file: a named pipe or device planted at
    `path` is refused at once, never waited on.

    Raises:
        OSError: the file cannot be opened (a link is refused with ELOOP) or written;
            `UnsafeFile` when it is not a regular file.
    """
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    try:
        fd = os.open(path, _APPEND_FLAGS, mode)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENXIO):  # a link; a pipe with no reader
            raise UnsafeFile(f"{path}: a link or a named pipe, not appended to") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFile(f"{path}: not a regular file, not appended to")
        written = os.write(fd, data)
        while written < len(data):  # a short write (a full disk frees up, a signal): finish the line
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
