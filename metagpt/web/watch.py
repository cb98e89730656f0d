"""One poller per watched project, shared by all of its event streams.

A stream's steps depend on where its client left off (`events.Cursor`), but what changed does
not: one task per project looks at the journal's and the history's files (a few `stat`s) every
`POLL_SECONDS` and asks for the project's status once a second, and wakes the streams when
either changed. Twenty browsers watching a run cost one poller, not twenty.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from metagpt.const import STATE_DB
from metagpt.web import history

POLL_SECONDS = 0.1
STATUS_SECONDS = 1.0
"""How often the status is asked when nothing changed (to notice a run that died)."""


def signature(root: Path | None) -> tuple | None:
    """What changes when a step is recorded: the journal's files and the history's HEAD."""
    if root is None:
        return None
    marks: list[tuple[int, int] | None] = []
    for name in (STATE_DB, f"{STATE_DB}-wal"):
        try:
            info = os.stat(root / name)
            marks.append((info.st_mtime_ns, info.st_size))
        except OSError:
            marks.append(None)
    return (*marks, history.head_signature(root))


class Watch:
    """The latest `root`, `signature` and status `info` of one project, and a `version` that
    grows whenever one of them changed."""

    def __init__(
        self,
        root_of: Callable[[], Path | None],
        status_of: Callable[[], dict[str, Any]],
        poll: float = POLL_SECONDS,
        on_idle: Callable[[], object] | None = None,
    ):
        self.root_of, self.status_of, self.poll, self.on_idle = root_of, status_of, poll, on_idle
        self.root: Path | None = None
        self.signature: tuple | None = None
        self.info: dict[str, Any] = {}
        self.version = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._clients = 0

    async def _look(self, asked: float) -> float:
        root = self.root_of()
        mark = await asyncio.to_thread(signature, root)
        info, now = self.info, time.monotonic()
        if mark != self.signature or root != self.root or now - asked >= STATUS_SECONDS:
            info, asked = await asyncio.to_thread(self.status_of), now
        if (root, mark, info) != (self.root, self.signature, self.info):
            self.root, self.signature, self.info = root, mark, info
            self.version += 1
            self._changed.set()
            self._changed = asyncio.Event()
        return asked

    async def _run(self) -> None:
        try:
            asked = await self._guarded_look(0.0)  # the first subscribers see the project at once
        finally:
            self._ready.set()
        while True:
            await asyncio.sleep(self.poll)
            asked = await self._guarded_look(asked)

    async def _guarded_look(self, asked: float) -> float:
        try:
            return await self._look(asked)
        except (OSError, sqlite3.Error) as exc:  # a journal that cannot be read ends the streams
            self.info = {"status": "failed", "stop_reason": f"cannot read the project: {exc}"}
            self.version += 1
            self._changed.set()
            self._changed = asyncio.Event()
            return time.monotonic()

    @contextlib.asynccontextmanager
    async def subscribed(self) -> AsyncIterator[Watch]:
        """Watch while the block runs; the poller stops with its last subscriber."""
        self._clients += 1
        try:
            if self._task is None:
                self._ready = asyncio.Event()
                self._task = asyncio.create_task(self._run())
            await self._ready.wait()
            yield self
        finally:
            self._clients -= 1
            if self._clients == 0 and self._task is not None:
                self._task.cancel()
                self._task = None
                if self.on_idle is not None:
                    self.on_idle()

    async def changed(self, seen: int, timeout: float) -> bool:
        """Wait until `version` is past `seen`, at most `timeout` seconds; whether it is."""
        if self.version > seen:
            return True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self.version > seen
