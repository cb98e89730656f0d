"""Reading files that untrusted code could have made, without following what it planted.

Generated code may have run in (or near) a folder before we read it: a file may have become a
link to `/proc/self/environ` or to a 1 GiB file, a named pipe that blocks `open()` forever, or a
device. Every read here walks the path one component at a time from a folder we trust, with
`O_NOFOLLOW` (a link is refused, never followed), opens the file non-blocking (a pipe cannot
hang us), checks with `fstat` that it is a regular file, and reads at most a bounded size.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

MAX_READ_BYTES = 1 << 20
"""Default largest file read whole (1 MiB); larger ones are refused with a note."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class UnsafeFile(OSError):
    """A file was not read: a link, not a regular file, too large, or missing. The message says which."""


def read_bytes(root: Path, relative: str | PurePosixPath, limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of `root/relative`, refusing links at every step, special files and large files.

    Args:
        root: a folder we trust (its own path is not checked).
        relative: the path below it, `/`-separated.
        limit: largest size read.

    Raises:
        UnsafeFile: naming the path and why it was not read.
    """
    parts = [p for p in PurePosixPath(relative).parts if p not in ("", ".")]
    if not parts or ".." in parts or PurePosixPath(relative).is_absolute():
        raise UnsafeFile(f"{relative}: not a path inside {root}")
    shown = "/".join(parts)
    fds: list[int] = []
    try:
        fds.append(os.open(root, _DIR_FLAGS & ~os.O_NOFOLLOW))
        for part in parts[:-1]:
            fds.append(_open(part, _DIR_FLAGS, fds[-1], shown, "a folder on its path is a link or not a folder"))
        fd = _open(parts[-1], _FILE_FLAGS, fds[-1], shown, "it is a symbolic link")
        fds.append(fd)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{shown}: not a regular file (skipped)")
        if info.st_size > limit:
            raise UnsafeFile(f"{shown}: {info.st_size:,} bytes, over the {limit:,}-byte limit (skipped)")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise UnsafeFile(f"{shown}: grew over the {limit:,}-byte limit while read (skipped)")
        return b"".join(chunks)
    finally:
        for fd in fds:
            os.close(fd)


def read_text(root: Path, relative: str | PurePosixPath, limit: int = MAX_READ_BYTES) -> str:
    """`read_bytes` decoded as UTF-8 (invalid bytes replaced)."""
    return read_bytes(root, relative, limit).decode("utf-8", errors="replace")


def _open(name: str, flags: int, dir_fd: int, shown: str, link_reason: str) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise UnsafeFile(f"{shown}: {link_reason} (skipped)") from None
        if error.errno == errno.ENOENT:
            raise UnsafeFile(f"{shown}: missing") from None
        raise UnsafeFile(f"{shown}: cannot be read ({error.strerror})") from None


def walk_files(root: Path, skip: frozenset[str] = frozenset()) -> Iterator[tuple[PurePosixPath, str]]:
    """Regular files under `root` as (relative path, "") and refused entries as (path, note).

    Links (to files or folders) are never followed and special files never opened: each is
    yielded with a note saying why it was skipped. Top-level names in `skip` and hidden names
    are left out silently. Sorted, so the order is stable.
    """

    def visit(folder: Path, relative: PurePosixPath) -> Iterator[tuple[PurePosixPath, str]]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            yield relative, f"{relative}: cannot be listed ({error.strerror})"
            return
        for entry in entries:
            path = relative / entry.name
            if entry.name.startswith(".") or (not relative.parts and entry.name in skip):
                continue
            if entry.is_symlink():
                yield path, f"{path}: a symbolic link, not followed (skipped)"
            elif entry.is_dir(follow_symlinks=False):
                yield from visit(Path(entry.path), path)
            elif entry.is_file(follow_symlinks=False):
                yield path, ""
            else:
                yield path, f"{path}: not a regular file (skipped)"

    yield from visit(Path(root), PurePosixPath())
