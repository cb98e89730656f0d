"""What the server knows of the workspace's projects, read from their journals and folders.

Nothing here writes: the journal is opened read-only (`journal.queries.open_readonly`, as
`metagpt logs` does), files are read with `utils.safe_read` (no link followed, bounded size),
and git runs through `GitHistory.git` (the project's own config neutralised).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from metagpt.const import DOCS_DIR, LOGS_DIR, STATE_DB, STATE_DIR
from metagpt.journal.queries import Filters, list_calls, open_readonly, spent_and_held
from metagpt.utils.safe_read import UnsafeFile, read_text, walk_files

NAME = re.compile(r"[a-z_][a-z0-9_]{0,79}")
"""A project folder name as the CLI makes them (`utils.paths.to_identifier`, plus `_2`...)."""
MAX_FILE_BYTES = 512 * 1024
"""Largest project file the server shows; larger ones are 404."""
PRIVATE_TOP = frozenset({LOGS_DIR})
"""Top-level folders never shown: the run's log holds every prompt and answer (git ignores it too)."""
STATUSES = ("running", "finished", "interrupted", "budget", "failed")


class NotFound(Exception):
    """No such project or file (or one the server will not show)."""


def valid_name(name: str) -> bool:
    return bool(NAME.fullmatch(name))


def project_dir(workspace: Path, name: str) -> Path:
    """The folder of project `name`, or NotFound for a bad name, a link or a folder without a journal."""
    if not valid_name(name):
        raise NotFound(name)
    path = workspace / name
    if path.is_symlink() or not path.is_dir() or not (path / STATE_DB).is_file():
        raise NotFound(name)
    return path


def list_names(workspace: Path) -> list[str]:
    """Projects with a journal, by folder name (a staged hidden folder is not one yet)."""
    try:
        entries = list(os.scandir(workspace))
    except OSError:
        return []
    return sorted(
        e.name
        for e in entries
        if valid_name(e.name) and e.is_dir(follow_symlinks=False) and os.path.isfile(os.path.join(e.path, STATE_DB))
    )


def lock_owner(state_dir: Path) -> int | None:
    """The pid of the live process holding the project's lock (`journal.lock.ProjectLock`), or None.

    Read from `/proc/locks`, so the check never takes the lock itself: taking it even for an
    instant could make a run starting at that moment fail as busy. A lock entry counts when it
    is on the lock file's inode and its device matches or its owner is the pid the file holds
    (an overlay filesystem may number its device differently). Without `/proc/locks` the pid
    in the file is asked whether it is alive.
    """
    path = state_dir / "lock"
    try:
        info = os.stat(path, follow_symlinks=False)
        written = int(path.read_text(encoding="ascii").strip() or 0)
    except (OSError, ValueError):
        return None
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            for parts in (line.split() for line in handle):
                if len(parts) < 6 or parts[1] != "FLOCK" or not parts[5].endswith(f":{info.st_ino}"):
                    continue
                owner = int(parts[4]) if parts[4].isdigit() else 0
                if parts[5].rsplit(":", 1)[0] == device or owner == written:
                    return owner or written or None
        return None
    except OSError:
        pass
    try:
        if written:
            os.kill(written, 0)
            return written
    except PermissionError:
        return written
    except OSError:
        return None
    return None


def lock_held(state_dir: Path) -> bool:
    """Whether a live process holds the project's lock (see `lock_owner`)."""
    return lock_owner(state_dir) is not None


@dataclass
class RunRow:
    status: str
    idea: str
    investment: float | None
    started_at: float
    ended_at: float | None
    stop_reason: str
    pid: int | None
    options: dict[str, Any]


def runs_of(db: sqlite3.Connection) -> list[RunRow]:
    rows = db.execute(
        "SELECT status, idea, investment, started_at, ended_at, stop_reason, pid, options FROM runs"
        " ORDER BY started_at, rowid"
    ).fetchall()
    result = []
    for status, idea, investment, started, ended, reason, pid, options in rows:
        try:
            parsed = json.loads(options or "{}")
        except ValueError:
            parsed = {}
        result.append(RunRow(status, idea or "", investment, started, ended, reason or "", pid, parsed))
    return result


def run_status(last: RunRow | None, alive: bool) -> str:
    """One of `STATUSES` for the newest run: `running` only while its process holds the lock."""
    if last is None:
        return "running" if alive else "failed"
    if last.status == "running":
        return "running" if alive else "interrupted"
    if alive:
        return "running"  # a resume has the lock and has not recorded its run yet
    if last.status == "failed" and last.stop_reason.startswith("NoMoneyException"):
        return "budget"
    return last.status if last.status in STATUSES else "failed"


def summary(workspace: Path, name: str) -> dict[str, Any]:
    """`{name, idea, status, spent, investment, updated_at}` of one project."""
    path = project_dir(workspace, name)
    db = open_readonly(path / STATE_DB)
    try:
        runs = runs_of(db)
        spent, _held = spent_and_held(db)
        last_call = db.execute("SELECT MAX(COALESCE(ended_at, started_at)) FROM calls").fetchone()[0]
    finally:
        db.close()
    last = runs[-1] if runs else None
    times = [t for t in (last_call, last and (last.ended_at or last.started_at)) if t]
    with contextlib.suppress(OSError):
        times.append((path / STATE_DB).stat().st_mtime)
    return {
        "name": name,
        "idea": runs[0].idea if runs else "",
        "status": run_status(last, lock_held(path / STATE_DIR)),
        "spent": round(spent, 6),
        "investment": last.investment if last else None,
        "updated_at": max(times) if times else None,
        "stop_reason": last.stop_reason if last else "",
    }


def project_files(root: Path) -> list[str]:
    """Every file the server shows, relative to the project (no hidden names, links, specials,
    logs or files over the size limit)."""
    found = (relative.as_posix() for relative, note in walk_files(root, PRIVATE_TOP) if not note)
    return [path for path in found if shown(path) and _small(root / path)]


def _small(path: Path) -> bool:
    """Within `MAX_FILE_BYTES` (the mermaid bundle a report copies is not, nor a data dump)."""
    try:
        return os.lstat(path).st_size <= MAX_FILE_BYTES
    except OSError:
        return False


def shown(relative: str) -> bool:
    """Whether the server shows the project file `relative` (no hidden part, no log, no cache)."""
    parts = [p for p in relative.split("/") if p]
    hidden = any(p.startswith(".") or p == "__pycache__" for p in parts)
    return bool(parts) and parts[0] not in PRIVATE_TOP and not hidden


def documents(root: Path) -> list[str]:
    """The markdown documents under `docs/` (the PRD, design, tasks, QA report...)."""
    from metagpt.report import DOCUMENTS

    listed = [p.name for p, note in walk_files(root / DOCS_DIR) if not note and p.suffix == ".md" and len(p.parts) == 1]
    known = [f"{stem}.md" for stem in DOCUMENTS]
    return [f"{DOCS_DIR}/{n}" for n in [n for n in known if n in listed] + sorted(n for n in listed if n not in known)]


def detail(workspace: Path, name: str) -> dict[str, Any]:
    """The summary plus `files`, `documents` and `calls` (count and cost)."""
    info = summary(workspace, name)
    root = workspace / name
    db = open_readonly(root / STATE_DB)
    try:
        count, cost = db.execute("SELECT COUNT(*), COALESCE(SUM(cost), 0) FROM calls").fetchone()
    finally:
        db.close()
    return {**info, "files": project_files(root), "documents": documents(root), "calls": {"count": count, "cost": cost}}


def calls(workspace: Path, name: str, limit: int = 0) -> list[dict[str, Any]]:
    """The project's calls as `metagpt logs --json` lists them, oldest first."""
    db = open_readonly(project_dir(workspace, name) / STATE_DB)
    try:
        return list_calls(db, Filters(limit=limit))
    finally:
        db.close()


def read_file(workspace: Path, name: str, relative: str, limit: int = MAX_FILE_BYTES) -> str:
    """A project file's text, or NotFound for a path outside the project, a link, `.git/`,
    `.metagpt/`, a hidden or special file, or one over `limit` bytes."""
    root = project_dir(workspace, name)
    pure = PurePosixPath(relative)
    parts = pure.parts
    if not parts or pure.is_absolute() or any(p in ("..", ".") or p.startswith(".") for p in parts):
        raise NotFound(relative)
    if "\\" in relative or "\0" in relative or not shown(relative):
        raise NotFound(relative)
    try:
        return read_text(root, relative, limit)
    except UnsafeFile:
        raise NotFound(relative) from None
