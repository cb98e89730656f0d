"""What a batch is doing now, and the live line that shows it.

Backends tell a `Tracker` when a company starts and ends, and how much a running company has
spent so far (`live`); anyone may read a `Snapshot` of it at any time. `ProgressLine` renders
snapshots on a stream: on a terminal one line redrawn in place (`\\r`, erased to its end), with
each ended company's line printed above it; elsewhere (a log file, CI) a plain status line at
most every `every` seconds, and only when something changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from metagpt.batch.company import BUDGET, DONE, FAILED, INTERRUPTED, SKIPPED, CompanyResult, Meter

ERASE_LINE = "\r\x1b[K"


@dataclass(frozen=True)
class Snapshot:
    """The batch at one moment."""

    companies: int
    done: int
    """Finished now or before (skipped)."""
    running: int
    failed: int
    """Ended failed or interrupted."""
    budget: int
    """Stopped by a budget, files kept."""
    spent: float
    """Dollars of ended companies plus what running ones have spent so far."""
    total: float | None
    seconds: float

    def line(self) -> str:
        money = f"${self.spent:.4f}" + (f" of ${self.total:.4f}" if self.total is not None else " spent")
        stopped = f", {self.budget} budget" if self.budget else ""
        return (
            f"{self.done}/{self.companies} done, {self.running} running, {self.failed} failed{stopped}"
            f"  {money}  {self.seconds:.0f}s"
        )


@dataclass
class Tracker:
    """Companies started, ended and their spend, as the backends report them."""

    on_result: Callable[[CompanyResult], None] | None = None
    on_begin: Callable[[], None] | None = None
    """Told when the batch starts its companies (after the checks that may refuse it)."""
    companies: int = 0
    total: float | None = None
    results: dict[int, CompanyResult] = field(default_factory=dict)
    running: dict[int, float | Meter] = field(default_factory=dict)
    """Index of each running company -> dollars it has spent so far (or its meter, in process)."""
    started_at: float = field(default_factory=time.monotonic)

    def begin(self, companies: int, total: float | None) -> None:
        self.companies, self.total, self.started_at = companies, total, time.monotonic()
        if self.on_begin is not None:
            self.on_begin()

    def started(self, index: int, meter: Meter | None = None) -> None:
        self.running[index] = meter if meter is not None else 0.0

    def live(self, index: int, dollars: float) -> None:
        if index in self.running:
            self.running[index] = dollars

    def ended(self, index: int, result: CompanyResult) -> None:
        self.running.pop(index, None)
        self.results[index] = result
        if self.on_result is not None:
            self.on_result(result)

    def snapshot(self) -> Snapshot:
        statuses = [result.status for result in self.results.values()]
        return Snapshot(
            companies=self.companies,
            done=sum(status in (DONE, SKIPPED) for status in statuses),
            running=len(self.running),
            failed=sum(status in (FAILED, INTERRUPTED) for status in statuses),
            budget=statuses.count(BUDGET),
            spent=sum(result.cost for result in self.results.values())
            + sum(value.dollars if isinstance(value, Meter) else value for value in self.running.values()),
            total=self.total,
            seconds=time.monotonic() - self.started_at,
        )


class ProgressLine:
    """Shows a tracker's snapshots on `stream` (see the module docstring).

    Args:
        live: redraw one line in place (a terminal); None asks `stream.isatty()`.
        every: seconds between plain status lines when not live; 0 prints none.
    """

    def __init__(self, stream: TextIO, tracker: Tracker, *, live: bool | None = None, every: float = 10.0):
        self.stream, self.tracker = stream, tracker
        self.live = stream.isatty() if live is None else live
        self.every = every
        self._drawn = False
        self._last_plain: tuple[str, float] | None = None

    def print(self, text: str) -> None:
        """A line of its own (an ended company), above the live line."""
        from metagpt.utils.paths import clean_text

        self._erase()
        self.stream.write(clean_text(text) + "\n")
        self.tick()

    def tick(self) -> None:
        """Redraw the live line, or print a plain status line when one is due."""
        snapshot = self.tracker.snapshot()
        if self.live:
            self.stream.write(ERASE_LINE + snapshot.line())
            self._drawn = True
        elif self.every > 0:
            key = snapshot.line().rsplit("  ", 1)[0]  # what changed, not the clock
            now = time.monotonic()
            if self._last_plain is None or (key != self._last_plain[0] and now - self._last_plain[1] >= self.every):
                self.stream.write(f"batch: {snapshot.line()}\n")
                self._last_plain = (key, now)
        self.stream.flush()

    def close(self) -> None:
        """Erase the live line (the summary follows)."""
        self._erase()
        self.stream.flush()

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write(ERASE_LINE)
            self._drawn = False
