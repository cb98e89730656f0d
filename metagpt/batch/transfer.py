"""Moving a project folder between nodes: packed as a gzipped tar, merged into the workspace.

A worker without a shared workspace works in a scratch folder of its own node and sends the
project back this way; the driver merges it into its workspace. Every file lands by an atomic
rename, so a project folder is never half written, and an existing folder (a resumed project)
is updated in place, never deleted.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid
from pathlib import Path

from metagpt.exceptions import ProjectFolderError


def pack(folder: Path) -> bytes:
    """`folder` and everything in it, as a gzipped tar whose top entry is the folder's name."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        tar.add(folder, arcname=folder.name)
    return buffer.getvalue()


def unpack(data: bytes, workspace: Path, name: str) -> Path:
    """Merge the packed project `name` into `workspace/name`; returns that folder.

    Raises:
        ProjectFolderError: the archive holds something else than the folder `name`, or
            cannot be written.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    incoming = workspace / f".incoming-{name}-{uuid.uuid4().hex[:8]}"
    target = workspace / name
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tops = {Path(member.name).parts[0] for member in tar.getmembers() if member.name}
            if tops != {name}:
                raise ProjectFolderError(f"A worker sent back {sorted(tops)} for the project {name}; nothing was kept.")
            tar.extractall(incoming, filter="data")
        if not os.path.lexists(target):
            os.rename(incoming / name, target)
        else:
            _merge(incoming / name, target)
    except OSError as exc:
        raise ProjectFolderError(f"Cannot write the project {target}: {exc}. Check the workspace folder.") from None
    finally:
        shutil.rmtree(incoming, ignore_errors=True)  # our own staging folder
    return target


def _merge(source: Path, target: Path) -> None:
    """Move every file of `source` over its place in `target` (an atomic rename each)."""
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir() and not path.is_symlink():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
