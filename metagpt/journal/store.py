"""`Journal`: every model call of a project, in SQLite, written before its answer is trusted.

A call's row is committed *before* the request is sent (status `started`) and completed after
it in one transaction (`ok`, `error` or `cancelled`, with the answer, tokens, price, cost and
latency). A process killed in between leaves a `started` row, which the next run marks
`interrupted` and counts at its worst case. On resume, a request whose fingerprint matches an
`ok` row is answered from that row at no cost (a `replayed` row records the reuse).

The database lives in the project (`.metagpt/state.db`), in WAL mode; its schema changes only
through `migrations`. Every text stored passes `redact`, so no configured secret is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metagpt.exceptions import UserError
from metagpt.journal.migrations import migrate
from metagpt.logs import redact

OK, ERROR, CANCELLED, STARTED, INTERRUPTED, REPLAYED = "ok", "error", "cancelled", "started", "interrupted", "replayed"
CHARGED = (OK, ERROR, CANCELLED, INTERRUPTED)
"""Statuses whose `cost` counts as spent (a replayed call cost nothing again)."""


def fingerprint(model: str, request: dict[str, Any]) -> str:
    """A stable hash of what decides a call's answer: the model and the redacted request."""
    canonical = json.dumps({"model": model, **request}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(redact(canonical).encode("utf-8")).hexdigest()


@dataclass
class CallStart:
    """What is known of a call before it is sent."""

    role: str
    action: str
    target: str
    model: str
    api_type: str
    base_url: str
    call_key: str
    request_hash: str
    request: dict[str, Any]
    attempt: int = 1
    reserved: float = 0.0


@dataclass
class CallEnd:
    """How a call ended."""

    status: str
    response: dict[str, Any] | None = None
    http_status: int | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_source: str | None = None
    price_prompt: float | None = None
    price_completion: float | None = None
    cost: float = 0.0
    latency_ms: float | None = None


@dataclass
class RunRecord:
    id: str
    status: str
    idea: str
    options: dict[str, Any]
    investment: float | None
    started_at: float
    ended_at: float | None
    stop_reason: str | None


class Journal:
    """The call journal of one project (or of a standalone `LLM` given `STATE_DB`).

    Args:
        path: the database file, or a function giving it (a project folder can be renamed
            while it runs: the connection is reopened at the new place).
    """

    def __init__(self, path: Path | str | Callable[[], Path]):
        self._path_of = path if callable(path) else (lambda p=Path(path): p)
        self._db: sqlite3.Connection | None = None
        self._opened_at: Path | None = None
        self.run_id: str | None = None
        self._replay: dict[str, deque[int]] = defaultdict(deque)
        self._replay_keys: dict[str, str] = {}
        self._sequence: dict[tuple[str, str, str], int] = defaultdict(int)
        self.mismatch: str | None = None
        """The first call key whose recorded request no longer matched, once one did."""

    # -- connection -----------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return Path(self._path_of())

    @property
    def db(self) -> sqlite3.Connection:
        path = self.path
        if self._db is None or self._opened_at != path:
            self.close()
            self._db = _connect(path)
            self._opened_at = path
        return self._db

    def close(self) -> None:
        """Close the connection (it reopens on the next use)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- runs -----------------------------------------------------------------------------------

    def start_run(
        self,
        idea: str = "",
        options: dict[str, Any] | None = None,
        investment: float | None = None,
        replay: bool = False,
    ) -> str:
        """Record a new run (recovering what a dead one left) and make it current; returns its id.

        With `replay` (a resumed run), requests that earlier runs answered are answered again
        from the journal; otherwise every call is sent.
        """
        self.recover()
        previous = self.last_run()
        self.run_id = uuid.uuid4().hex[:12]
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs (id, started_at, status, idea, options, pid, resumed_from, investment)"
                " VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                (
                    self.run_id,
                    time.time(),
                    redact(idea),
                    redact(json.dumps(options or {})),
                    os.getpid(),
                    previous.id if previous else None,
                    investment,
                ),
            )
        if replay:
            self._load_replay()
        return self.run_id

    def update_run(self, options: dict[str, Any], investment: float | None = None) -> None:
        """Replace the current run's options (and investment), once they are all known."""
        if self.run_id is None:
            return
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET options = ?, investment = COALESCE(?, investment) WHERE id = ?",
                (redact(json.dumps(options)), investment, self.run_id),
            )

    def end_run(self, status: str, stop_reason: str = "") -> None:
        """Record how the current run ended: `finished`, `failed` or `interrupted`."""
        if self.run_id is None:
            return
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, stop_reason = ?, ended_at = ? WHERE id = ?",
                (status, redact(stop_reason)[:2000], time.time(), self.run_id),
            )

    def last_run(self) -> RunRecord | None:
        """The newest run other than the current one."""
        row = self.db.execute(
            "SELECT id, status, idea, options, investment, started_at, ended_at, stop_reason FROM runs"
            " WHERE id IS NOT ? ORDER BY started_at DESC, rowid DESC LIMIT 1",
            (self.run_id,),
        ).fetchone()
        if row is None:
            return None
        return RunRecord(row[0], row[1], row[2] or "", json.loads(row[3] or "{}"), *row[4:])

    def runs_where(self, **options: Any) -> list[str]:
        """Ids of the runs whose options hold every given value, oldest first."""
        rows = self.db.execute("SELECT id, options FROM runs ORDER BY started_at, rowid").fetchall()
        picked = []
        for run_id, text in rows:
            recorded = json.loads(text or "{}")
            if all(recorded.get(key) == value for key, value in options.items()):
                picked.append(run_id)
        return picked

    def first_run(self) -> RunRecord | None:
        row = self.db.execute(
            "SELECT id, status, idea, options, investment, started_at, ended_at, stop_reason FROM runs"
            " ORDER BY started_at, rowid LIMIT 1"
        ).fetchone()
        return None if row is None else RunRecord(row[0], row[1], row[2] or "", json.loads(row[3] or "{}"), *row[4:])

    def recover(self) -> int:
        """Mark what killed processes left: their runs `interrupted`, their started calls at
        their worst case (the answer may have been billed before it could be recorded).

        Runs of processes still alive (another standalone `LLM` sharing `STATE_DB`) are left
        alone. Returns the number of calls so marked.
        """
        running = self.db.execute("SELECT id, pid FROM runs WHERE status = 'running'").fetchall()
        dead = [run_id for run_id, pid in running if run_id != self.run_id and not _alive(pid)]
        if not dead:
            return 0
        marks = ",".join("?" * len(dead))
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE calls SET status = 'interrupted', cost = reserved, ended_at = ?,"
                f" error = 'the process ended before the answer was recorded' WHERE status = 'started'"
                f" AND run_id IN ({marks})",
                (now, *dead),
            )
            db.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = COALESCE(ended_at, ?),"
                f" stop_reason = COALESCE(stop_reason, 'the process was killed') WHERE id IN ({marks})",
                (now, *dead),
            )
            return cursor.rowcount

    # -- calls ----------------------------------------------------------------------------------

    def call_key(self, role: str, action: str, target: str) -> str:
        """`role/action/target#n`: the n-th such call of this run, the same on every re-run."""
        self._sequence[(role, action, target)] += 1
        return f"{role or '-'}/{action or '-'}/{target or '-'}#{self._sequence[(role, action, target)]}"

    def begin(self, call: CallStart) -> int:
        """Commit a `started` row before the request is sent; returns its id."""
        run_id = self._current_run()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO calls (run_id, started_at, status, role, action, target, model, api_type, base_url,"
                " call_key, request_hash, attempt, request, reserved)"
                " VALUES (?, ?, 'started', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    time.time(),
                    call.role,
                    call.action,
                    call.target,
                    call.model,
                    call.api_type,
                    redact(call.base_url),
                    call.call_key,
                    call.request_hash,
                    call.attempt,
                    redact(json.dumps(call.request, ensure_ascii=False)),
                    call.reserved,
                ),
            )
            if cursor.lastrowid is None:  # pragma: no cover - sqlite3 sets it after an INSERT
                raise RuntimeError("the journal's INSERT gave no row id")
            return int(cursor.lastrowid)

    def finish(self, call_id: int, end: CallEnd) -> None:
        """Complete a call's row, all in one transaction."""
        with self._transaction() as db:
            db.execute(
                "UPDATE calls SET status = ?, ended_at = ?, response = ?, http_status = ?, error = ?,"
                " prompt_tokens = ?, completion_tokens = ?, usage_source = ?, price_prompt = ?,"
                " price_completion = ?, cost = ?, latency_ms = ? WHERE id = ?",
                (
                    end.status,
                    time.time(),
                    None if end.response is None else redact(json.dumps(end.response, ensure_ascii=False)),
                    end.http_status,
                    None if end.error is None else redact(end.error)[:4000],
                    end.prompt_tokens,
                    end.completion_tokens,
                    end.usage_source,
                    end.price_prompt,
                    end.price_completion,
                    end.cost,
                    end.latency_ms,
                    call_id,
                ),
            )

    def replay(self, request_hash: str, call_key: str, start: CallStart) -> dict[str, Any] | None:
        """The recorded answer to this request, once per recorded `ok` row, or None.

        A hit is recorded as a `replayed` row costing nothing. A miss whose call key was
        answered before for another request is remembered in `mismatch` (the first one only).
        """
        queue = self._replay.get(request_hash)
        if not queue:
            if self.mismatch is None and call_key in self._replay_keys.values() and self._pending_replays():
                self.mismatch = call_key
            return None
        original = queue.popleft()
        row = self.db.execute(
            "SELECT response, prompt_tokens, completion_tokens FROM calls WHERE id = ?", (original,)
        ).fetchone()
        call_id = self.begin(start)
        self.finish(
            call_id,
            CallEnd(status=REPLAYED, response=json.loads(row[0]), prompt_tokens=row[1], completion_tokens=row[2]),
        )
        self.db.execute("UPDATE calls SET replayed_from = ? WHERE id = ?", (original, call_id))
        return json.loads(row[0])

    def _pending_replays(self) -> bool:
        return any(self._replay.values())

    def _load_replay(self) -> None:
        self._replay.clear()
        self._replay_keys.clear()
        rows = self.db.execute(
            "SELECT id, request_hash, call_key FROM calls WHERE status = 'ok' AND run_id != ? ORDER BY id",
            (self.run_id,),
        )
        for call_id, request_hash, call_key in rows:
            self._replay[request_hash].append(call_id)
            self._replay_keys[request_hash] = call_key

    def _current_run(self) -> str:
        if self.run_id is None:
            self.start_run()
        assert self.run_id is not None
        return self.run_id

    # -- totals ---------------------------------------------------------------------------------

    def spent(
        self, before_current: bool = True, runs: list[str] | None = None
    ) -> dict[tuple[str, str], tuple[int, int, int, float]]:
        """Calls, prompt and completion tokens and dollars per (role, model) charged so far
        (by earlier runs only, with `before_current`; by the runs `runs` only, when given)."""
        placeholders = ",".join("?" * len(CHARGED))
        query = (
            "SELECT COALESCE(role, ''), COALESCE(model, ''), COUNT(*), COALESCE(SUM(prompt_tokens), 0),"
            f" COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost), 0) FROM calls WHERE status IN ({placeholders})"
        )
        params: list[Any] = list(CHARGED)
        if before_current and self.run_id is not None:
            query += " AND run_id != ?"
            params.append(self.run_id)
        if runs is not None:
            query += f" AND run_id IN ({','.join('?' * len(runs))})"
            params += runs
        rows = self.db.execute(query + " GROUP BY 1, 2", params)
        return {(role, model): (calls, p, c, cost) for role, model, calls, p, c, cost in rows}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _connect(path: Path) -> sqlite3.Connection:
    """Open (creating it and its folder if needed) and migrate the database at `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA busy_timeout = 10000")
        migrate(db)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        raise UserError(f"Cannot open the journal {path}: {exc}. Check the folder, or move the file away.") from None
    return db
