"""The journal's schema, changed only by named, additive migrations recorded in the database.

Each migration runs once, in order, inside one transaction with its record in `_migrations`;
`PRAGMA user_version` holds how many have run, so a newer database is recognised and refused
by an older MetaGPT instead of being misread.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = []


def migration(func: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append((func.__name__, func))
    return func


@migration
def m001_runs_and_calls(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            started_at REAL NOT NULL,
            ended_at REAL,
            status TEXT NOT NULL,            -- running, finished, failed, interrupted
            stop_reason TEXT,
            idea TEXT,
            options TEXT,                    -- JSON: what a resume needs to run the same company
            pid INTEGER,
            resumed_from TEXT,
            investment REAL
        )"""
    )
    db.execute(
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            started_at REAL NOT NULL,
            ended_at REAL,
            status TEXT NOT NULL,            -- started, ok, error, cancelled, interrupted, replayed
            role TEXT,
            action TEXT,
            target TEXT,
            model TEXT,
            api_type TEXT,
            base_url TEXT,
            call_key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 1,
            request TEXT,                    -- JSON, secrets redacted
            response TEXT,                   -- JSON: text, finish_reason, model; secrets redacted
            http_status INTEGER,
            error TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            usage_source TEXT,               -- server, counted
            price_prompt REAL,               -- dollars per 1M tokens
            price_completion REAL,
            reserved REAL,                   -- the worst case held by the budget
            cost REAL,
            latency_ms REAL,
            replayed_from INTEGER
        )"""
    )
    db.execute("CREATE INDEX calls_by_request ON calls (request_hash, status)")
    db.execute("CREATE INDEX calls_by_run ON calls (run_id)")


def migrate(db: sqlite3.Connection) -> None:
    """Bring `db` (opened in autocommit mode) to the newest schema, a transaction a migration.

    Raises:
        RuntimeError: the database was written by a newer MetaGPT (more migrations than known).
    """
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    known = {name for name, _ in MIGRATIONS}
    if done - known:
        raise RuntimeError(f"written by a newer MetaGPT (migrations {sorted(done - known)}); upgrade metagpt")
    for name, func in MIGRATIONS:
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            func(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
            db.execute(f"PRAGMA user_version = {len(done) + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        done.add(name)
