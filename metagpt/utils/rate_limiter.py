"""Requests-per-minute limiting for one company."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """Spaces request starts at least `60 / rpm` seconds apart; `rpm=0` disables it."""

    def __init__(self, rpm: int = 0):
        self.interval = 60.0 / rpm if rpm > 0 else 0.0
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            wait = self._next_start - now
            self._next_start = max(now, self._next_start) + self.interval
        if wait > 0:
            await asyncio.sleep(wait)
