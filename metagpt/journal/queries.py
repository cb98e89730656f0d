"""Reading the journal for `metagpt logs`: call rows, one call whole, and spend summaries."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from metagpt.exceptions import UserError
from metagpt.journal.store import CHARGED

LIST_COLUMNS = (
    "id, run_id, started_at, role, action, target, model, prompt_tokens, completion_tokens, cost, latency_ms,"
    " status, attempt, call_key, error"
)


@dataclass
class Filters:
    """What `metagpt logs` narrows the list to; empty fields filter nothing."""

    role: str = ""
    action: str = ""
    model: str = ""
    status: str = ""
    since: float | None = None
    """Epoch seconds."""
    limit: int = 20
    """The newest N rows; 0 for all."""


def parse_since(text: str, now: float | None = None) -> float:
    """`90s`, `30m`, `2h`, `3d`, `1w` ago, or an ISO date/time, as epoch seconds.

    Raises:
        UserError: neither form.
    """
    now = time.time() if now is None else now
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match:
        scale = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
        return now - float(match.group(1)) * scale
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise UserError(f"--since {text!r} is neither a duration (30m, 2h, 3d) nor a date (2026-12-01).") from None


def list_calls(db: sqlite3.Connection, filters: Filters) -> list[dict[str, Any]]:
    """Call rows matching `filters`, oldest first (the newest `limit` of them)."""
    where, params = [], []
    for column in ("role", "action", "model", "status"):
        value = getattr(filters, column)
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if filters.since is not None:
        where.append("started_at >= ?")
        params.append(filters.since)
    query = f"SELECT {LIST_COLUMNS} FROM calls"
    if where:
        query += " WHERE " + " AND ".join(where)
    query += " ORDER BY id DESC"
    if filters.limit:
        query += f" LIMIT {int(filters.limit)}"
    rows = db.execute(query, params).fetchall()
    names = [c.strip() for c in LIST_COLUMNS.split(",")]
    return [dict(zip(names, row, strict=True)) for row in reversed(rows)]


SHOW_CHARS = 20_000
"""Characters `metagpt logs show` keeps of each long text (its head and tail) unless `--full`."""


def cut_text(text: str, limit: int) -> str:
    """`text` within about `limit` characters: its head and tail, the cut marked between them."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half:,} characters cut; --full shows them ...]\n{text[-half:]}"


def _cut_strings(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return cut_text(value, limit)
    if isinstance(value, list):
        return [_cut_strings(item, limit) for item in value]
    if isinstance(value, dict):
        return {key: _cut_strings(item, limit) for key, item in value.items()}
    return value


def get_call(db: sqlite3.Connection, call_id: int, limit: int | None = None) -> dict[str, Any] | None:
    """One call, its request and response decoded; with `limit`, every text cut to about that
    many characters, and a request or response too large to decode cheaply read only as the head
    and tail of its stored JSON (so showing a call with a huge answer stays small)."""
    sizes = db.execute("SELECT length(request), length(response) FROM calls WHERE id = ?", (call_id,)).fetchone()
    if sizes is None:
        return None
    stored = dict(zip(("request", "response"), (size or 0 for size in sizes), strict=True))
    too_big = {key for key, size in stored.items() if limit and size > 8 * limit}
    half = (limit or 0) // 2
    columns = [row[1] for row in db.execute("PRAGMA table_info(calls)")]
    select = ", ".join(
        f"substr({c}, 1, {half}) || char(0) || substr({c}, -{half})" if c in too_big else c for c in columns
    )
    row = db.execute(f"SELECT {select} FROM calls WHERE id = ?", (call_id,)).fetchone()
    call = dict(zip(columns, row, strict=True))
    for key in ("request", "response"):
        if call.get(key) and key not in too_big:
            call[key] = json.loads(call[key])
    if limit:
        call = {key: value if key in too_big else _cut_strings(value, limit) for key, value in call.items()}
    for key in too_big:
        head, tail = call[key].split("\0", 1)
        note = f"[... {stored[key] - 2 * half:,} characters of the stored JSON cut; --full shows them ...]"
        cut = f"{head}\n{note}\n{tail}"
        call[key] = {"text": cut} if key == "response" else {"messages": [{"role": "stored JSON", "content": cut}]}
    return call


@dataclass
class Group:
    """The calls of one (role, action, model)."""

    role: str
    action: str
    model: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    errors: int = 0
    retries: int = 0
    replayed: int = 0
    latencies: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "action": self.action,
            "model": self.model,
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": round(self.cost, 10),
            "errors": self.errors,
            "retries": self.retries,
            "replayed": self.replayed,
            "p50_ms": percentile(self.latencies, 50),
            "p95_ms": percentile(self.latencies, 95),
        }


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return round(ordered[int(rank) - 1], 1)


def summary(db: sqlite3.Connection) -> dict[str, Any]:
    """Per role, action and model: calls, tokens, dollars, latency percentiles, errors, retries;
    and the totals. Dollars count every charged attempt, as the budget does."""
    groups: dict[tuple[str, str, str], Group] = {}
    rows = db.execute(
        "SELECT COALESCE(role, ''), COALESCE(action, ''), COALESCE(model, ''), status, attempt,"
        " COALESCE(prompt_tokens, 0), COALESCE(completion_tokens, 0), COALESCE(cost, 0), latency_ms FROM calls"
        " ORDER BY id"
    )
    for role, action, model, status, attempt, prompt, completion, cost, latency in rows:
        group = groups.setdefault((role, action, model), Group(role, action, model))
        group.calls += 1
        group.retries += attempt > 1
        group.errors += status in ("error", "cancelled", "interrupted")
        group.replayed += status == "replayed"
        if status in CHARGED:
            group.prompt_tokens += prompt
            group.completion_tokens += completion
            group.cost += cost
        if status == "ok" and latency is not None:
            group.latencies.append(latency)
    ordered = [groups[key].as_dict() for key in sorted(groups)]
    total = Group("", "", "")
    for group in groups.values():
        for name in ("calls", "prompt_tokens", "completion_tokens", "cost", "errors", "retries", "replayed"):
            setattr(total, name, getattr(total, name) + getattr(group, name))
        total.latencies += group.latencies
    totals = total.as_dict()
    for name in ("role", "action", "model"):
        totals.pop(name)
    runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    return {"groups": ordered, "total": {**totals, "runs": runs}, "providers": by_provider(db)}


def by_provider(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per provider (`api_type`) and model: charged calls, tokens and dollars, as the budget counts them."""
    marks = ",".join("?" * len(CHARGED))
    rows = db.execute(
        "SELECT COALESCE(api_type, ''), COALESCE(model, ''), COUNT(*), COALESCE(SUM(prompt_tokens), 0),"
        f" COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost), 0) FROM calls WHERE status IN ({marks})"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        CHARGED,
    )
    keys = ("api_type", "model", "calls", "prompt_tokens", "completion_tokens", "cost")
    return [{**dict(zip(keys, row, strict=True)), "cost": round(row[5], 10)} for row in rows]


def spent_and_held(db: sqlite3.Connection) -> tuple[float, float]:
    """Dollars the project's calls were charged (as the budget counts them), and dollars still
    held by calls left `started`: a process killed in flight leaves those, and the next run
    charges each at its worst case (`Journal.recover`), since the server may have billed it."""
    marks = ",".join("?" * len(CHARGED))
    charged = db.execute(f"SELECT COALESCE(SUM(cost), 0) FROM calls WHERE status IN ({marks})", CHARGED).fetchone()
    held = db.execute("SELECT COALESCE(SUM(reserved), 0) FROM calls WHERE status = 'started'").fetchone()
    return float(charged[0]), float(held[0])


def last_run_status(db: sqlite3.Connection) -> str | None:
    """The status of the newest run (`running`, `finished`, `failed`, `interrupted`), or None."""
    row = db.execute("SELECT status FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def open_readonly(path: Path) -> sqlite3.Connection:
    """The journal at `path`, opened for reading only (a running company may be writing it)."""
    if not path.is_file():
        raise UserError(f'No journal at {path}: run a project first, e.g. metagpt "a snake game".')
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
        db.execute("SELECT 1 FROM calls LIMIT 1")
    except sqlite3.Error as exc:
        raise UserError(f"Cannot read the journal {path}: {exc}.") from None
    return db
