"""The shared budget of a batch: one ledger of integer micro-dollars for all its companies.

Each model call of each company holds its worst case in the ledger before it is sent, then
commits its real cost (or releases the hold). The ledger grants a hold only when what is spent
plus what is held plus the hold fits in the total, so the companies together never exceed it,
however many call at once.

Why integers: summing dollars as floats lets rounding refuse a call that fits (or grant one that
does not: 149 of 150 one-cent holds fit a $1.50 cap as floats). Every amount is converted once,
rounded *up* to a whole micro-dollar (`to_micros`), so the ledger's sum bounds the real one.

Why one lock: the check and the update must be one step. The `Ledger` object takes a lock; on
Ray it runs as a plain (not async) actor, whose methods Ray runs one at a time.

Cumulative: a resumed batch's ledger starts at what its projects' journals say they spent
(`before`), so `--investment-total` bounds all runs of the batch together, as `--investment`
does for one resumed company.

Dead workers: each hold names its owner (a Ray actor). When an owner dies mid-call its holds can
never be committed, yet the server may have billed those calls. `abandon` moves them out of the
live holds into `lost`, which still counts against the total (the conservative answer: the money
may be spent) and is reported apart, as held by dead workers; a commit or release that still
arrives for such a hold settles it as usual.
"""

from __future__ import annotations

import math
import threading
import uuid
from dataclasses import dataclass

from metagpt.exceptions import TotalBudgetExhausted

MICROS_PER_DOLLAR = 1_000_000


def to_micros(dollars: float) -> int:
    """`dollars` as whole micro-dollars, rounded up (after dropping float noise below 1e-9 $)."""
    return math.ceil(round(float(dollars) * MICROS_PER_DOLLAR, 3))


def to_dollars(micros: int) -> float:
    return micros / MICROS_PER_DOLLAR


@dataclass(frozen=True)
class LedgerState:
    """A snapshot of the ledger, in micro-dollars."""

    total: int
    spent: int
    """Committed, including `before`."""
    held: int
    holds: int
    granted: int
    refused: int
    epoch: str
    before: int = 0
    """Spent by earlier runs of the batch's projects (their journals), before this ledger started."""
    lost: int = 0
    """Held by workers that died mid-call: maybe billed, so still counted against the total."""
    lost_holds: int = 0

    @property
    def used(self) -> int:
        """What no further hold may take: spent, held, and held by dead workers."""
        return self.spent + self.held + self.lost

    @property
    def spent_dollars(self) -> float:
        return to_dollars(self.spent)

    @property
    def total_dollars(self) -> float:
        return to_dollars(self.total)


class Ledger:
    """The total budget and every hold on it.

    Args:
        total: the total budget in dollars (converted once to micro-dollars).
        micros: the total in micro-dollars instead (a copy of another ledger's).
        before: micro-dollars spent by earlier runs, counted as spent from the start.
    """

    def __init__(self, total: float = 0.0, *, micros: int | None = None, before: int = 0):
        self.total = micros if micros is not None else to_micros(total)
        self.before = max(0, before)
        self.spent = self.before
        self._holds: dict[str, tuple[int, str]] = {}
        """ticket -> (micro-dollars, owner)"""
        self._lost: dict[str, int] = {}
        """ticket -> micro-dollars, of holds whose owner died"""
        self._lock = threading.Lock()
        self.granted = self.refused = 0
        self.epoch = uuid.uuid4().hex
        """Changes when a ledger starts again from scratch: a client seeing another refuses."""

    def reserve(self, ticket: str, micros: int, owner: str = "") -> tuple[bool, str]:
        """Hold `micros` under `ticket` for `owner` if it fits; returns (granted, epoch)."""
        with self._lock:
            used = self.spent + sum(held for held, _ in self._holds.values()) + sum(self._lost.values())
            if micros < 0 or used + micros > self.total:
                self.refused += 1
                return False, self.epoch
            held, _ = self._holds.get(ticket, (0, owner))
            self._holds[ticket] = (held + micros, owner)
            self.granted += 1
            return True, self.epoch

    def commit(self, ticket: str, micros: int) -> None:
        """Replace the hold `ticket` by the call's real cost (also when the hold is unknown or lost)."""
        with self._lock:
            self._holds.pop(ticket, None)
            self._lost.pop(ticket, None)
            self.spent += max(0, micros)

    def release(self, ticket: str) -> None:
        """Drop the hold `ticket` (unknown tickets are ignored: a refused or released hold)."""
        with self._lock:
            self._holds.pop(ticket, None)
            self._lost.pop(ticket, None)

    def abandon(self, owner: str) -> int:
        """`owner` died: move its holds to `lost` (see the module docstring); returns their micro-dollars."""
        with self._lock:
            tickets = [ticket for ticket, (_, holder) in self._holds.items() if owner and holder == owner]
            for ticket in tickets:
                self._lost[ticket] = self._holds.pop(ticket)[0]
            return sum(self._lost[ticket] for ticket in tickets)

    def state(self) -> LedgerState:
        with self._lock:
            held = sum(micros for micros, _ in self._holds.values())
            return LedgerState(
                self.total, self.spent, held, len(self._holds), self.granted, self.refused, self.epoch,
                self.before, sum(self._lost.values()), len(self._lost),
            )  # fmt: skip


def new_ticket() -> str:
    return uuid.uuid4().hex


def refusal(ledger_state: LedgerState, estimate: float) -> TotalBudgetExhausted:
    """The error a company gets when the ledger refuses a hold of `estimate` dollars."""
    return TotalBudgetExhausted(to_dollars(ledger_state.used), ledger_state.total_dollars, estimate)


class LocalBudget:
    """A `SharedBudget` on a `Ledger` in this process (the asyncio backend)."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    async def reserve(self, dollars: float) -> str:
        ticket = new_ticket()
        granted, _ = self.ledger.reserve(ticket, to_micros(dollars))
        if not granted:
            raise refusal(self.ledger.state(), dollars)
        return ticket

    def commit(self, ticket: str, dollars: float) -> None:
        self.ledger.commit(ticket, to_micros(dollars))

    def release(self, ticket: str) -> None:
        self.ledger.release(ticket)
