"""A project's journal and history as Server-Sent Events: one event per step, resumable.

The steps, each with JSON data:

- `stage`: a role starts an action (the first call of a new role and action, by call id);
- `call`: a model call ended (its `metagpt logs --json` row), in the order calls ended;
- `commit`: a stage's commit in the project's history, followed by one `message` per step it
  is named after (`{"role", "cause_by"}`) and one `file` per file it changed;
- `status` (no id): the project's status and spend, after each batch of steps;
- `done`: the run is no longer running, with its final status; the stream then ends.

Every step's id is a cursor over the three sources (`Cursor`), so `Last-Event-ID` continues
exactly where a client left off, after a reconnect or a server restart. Steps are merged by
time, ties broken by source, so replaying from any id gives the rest of the same sequence.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from metagpt.const import STATE_DB
from metagpt.journal.queries import LIST_COLUMNS, open_readonly
from metagpt.web import history, projects
from metagpt.web.watch import Watch

SETTLE_SECONDS = 0.15
"""A live stream sends a step once it is this old: a step is stamped just before it becomes
visible (its transaction commits, its ref is updated), so waiting this long lets every step
stamped earlier arrive first, and the live order is the order a replay gives."""
KEEPALIVE_SECONDS = 15.0
_COLUMNS = [c.strip() for c in LIST_COLUMNS.split(",")]


@dataclass(frozen=True)
class Cursor:
    """How far a client got: the call that began the last stage sent, the last ended call
    sent, the commits sent whole, and the events sent of the next commit."""

    stage: int = 0
    call: int = 0
    commits: int = 0
    part: int = 0

    def __str__(self) -> str:
        return f"{self.stage}.{self.call}.{self.commits}.{self.part}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        try:
            values = [int(v) for v in (text or "").strip().split(".")]
        except ValueError:
            return cls()
        if len(values) != 4 or any(v < 0 for v in values):
            return cls()
        return cls(*values)


@dataclass
class Event:
    kind: str
    data: dict[str, Any]
    time: float = 0.0
    cursor: Cursor | None = None

    def encode(self) -> str:
        lines = [f"event: {self.kind}"]
        if self.cursor is not None:
            lines.append(f"id: {self.cursor}")
        lines.append("data: " + json.dumps(self.data, ensure_ascii=True, separators=(",", ":")))
        return "\n".join(lines) + "\n\n"


def _stage_events(db: sqlite3.Connection, after: int) -> list[tuple[float, int, dict]]:
    """(time, call id, data) of each call after call `after` that starts a new role and action."""
    previous = db.execute("SELECT role, action FROM calls WHERE id = ?", (after,)).fetchone() if after else None
    found = []
    rows = db.execute("SELECT id, started_at, role, action FROM calls WHERE id > ? ORDER BY id", (after,))
    for call_id, started, role, action in rows:
        if previous is None or (role, action) != tuple(previous):
            found.append((started, call_id, {"role": role or "", "action": action or "", "call": call_id}))
        previous = (role, action)
    return found


def _call_events(db: sqlite3.Connection, after: int) -> list[tuple[float, int, dict]]:
    """(ended_at, id, row) of calls that ended after call `after` ended (journal order of ending)."""
    params: tuple[Any, ...]
    where, params = "status != 'started'", ()
    if after:
        mark = db.execute("SELECT ended_at FROM calls WHERE id = ?", (after,)).fetchone()
        if mark and mark[0] is not None:
            where += " AND (ended_at > ? OR (ended_at = ? AND id > ?))"
            params = (mark[0], mark[0], after)
    rows = db.execute(
        f"SELECT {LIST_COLUMNS}, ended_at FROM calls WHERE {where} ORDER BY ended_at, id", params
    ).fetchall()
    return [(row[-1] or row[2], row[0], dict(zip(_COLUMNS, row[:-1], strict=True))) for row in rows]


def _commit_parts(commit: history.Commit) -> list[tuple[str, dict]]:
    parts = [("commit", {"sha": commit.sha, "subject": commit.subject, "time": commit.time, "files": commit.files})]
    parts += [("message", {"role": role, "cause_by": action, "sha": commit.sha}) for role, action in commit.steps]
    parts += [("file", {"path": path, "sha": commit.sha}) for path in commit.files if projects.shown(path)]
    return parts


def collect(root: Path, cursor: Cursor, commits: list[history.Commit] | None = None) -> tuple[list[Event], Cursor]:
    """Every step after `cursor`, merged in time order, each carrying the cursor after it; and
    the cursor after them all. `commits`: the project's history, when the caller has it."""
    raw: list[tuple[float, int, int, str, dict]] = []  # time, source (stage, call, commit), seq, kind, data
    db = open_readonly(root / STATE_DB)
    try:
        db.execute("BEGIN")  # one snapshot of the journal for both scans
        stages = _stage_events(db, cursor.stage)
        ended = _call_events(db, cursor.call)
    finally:
        db.close()
    for started, call_id, data in stages:
        raw.append((started, 0, call_id, "stage", data))
    for ended_at, call_id, row in ended:
        raw.append((ended_at, 1, call_id, "call", row))
    commit_list = history.commits(root) if commits is None else commits
    totals: dict[int, int] = {}
    for index, commit in enumerate(commit_list[cursor.commits :], start=cursor.commits):
        start = cursor.part if index == cursor.commits else 0
        parts = _commit_parts(commit)
        totals[index] = len(parts)
        for part_no, (kind, data) in enumerate(parts[start:], start=start):
            raw.append((commit.written, 2, index * 100_000 + part_no, kind, data))
    raw.sort(key=lambda item: (item[0], item[1], item[2]))
    events = []
    stage, call, done_commits, part = cursor.stage, cursor.call, cursor.commits, cursor.part
    for when, source, seq, kind, data in raw:
        if source == 0:
            stage = seq
        elif source == 1:
            call = seq
        else:
            index, part_no = divmod(seq, 100_000)
            done_commits, part = (index + 1, 0) if part_no + 1 == totals[index] else (index, part_no + 1)
        events.append(Event(kind, data, when, Cursor(stage, call, done_commits, part)))
    # the stage cursor names the last stage sent, never a row merely scanned, so a step's id is
    # the same whether it was sent live or replayed
    return events, Cursor(stage, call, done_commits, part)


async def stream(
    watch: Watch, cursor: Cursor, commits_of: Callable[[Path], list[history.Commit]] = history.commits
) -> AsyncIterator[str]:
    """The SSE text of a project's steps after `cursor`, live, until its run is done.

    `watch` (shared with the project's other streams) says when the journal, the history or
    the status changed; a queued run has no folder yet (`watch.root` is None).
    """
    yield "retry: 2000\n\n"
    async with watch.subscribed():
        seen, collected = -1, None
        last_status: dict[str, Any] | None = None
        commits: list[history.Commit] = []
        head: Any = object()
        pending = sent = False
        while True:
            if watch.version == seen:
                if pending:
                    await asyncio.sleep(watch.poll)  # steps that wait to settle
                elif not await watch.changed(seen, KEEPALIVE_SECONDS):
                    yield ": keep-alive\n\n"
                    continue
            seen, root, mark, info = watch.version, watch.root, watch.signature, watch.info
            if root is not None and mark is not None and (mark != collected or pending):
                collected = mark
                if mark[-1] != head:
                    head = mark[-1]
                    commits = await asyncio.to_thread(commits_of, root)
                events, final = await asyncio.to_thread(collect, root, cursor, commits)
                settled = time.time() - SETTLE_SECONDS
                ready = [event for event in events if event.time <= settled]  # a prefix: sorted by time
                pending = len(ready) < len(events)
                # `collect`'s events each carry the cursor after them
                cursor = final if not pending else (cast(Cursor, ready[-1].cursor) if ready else cursor)
                for event in ready:
                    yield event.encode()
                sent = sent or bool(ready)
            if sent or info != last_status:
                last_status, sent = info, False
                yield Event("status", info).encode()
            if info.get("status") != "running":
                if root is not None and (root / STATE_DB).is_file():
                    commits = await asyncio.to_thread(commits_of, root)
                    events, cursor = await asyncio.to_thread(collect, root, cursor, commits)
                    for event in events:
                        yield event.encode()
                yield Event("done", info).encode()
                return
