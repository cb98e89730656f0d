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
    held: int
    holds: int
    granted: int
    refused: int
    epoch: str

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
    """

    def __init__(self, total: float = 0.0, *, micros: int | None = None):
        self.total = micros if micros is not None else to_micros(total)
        self.spent = 0
        self._holds: dict[str, int] = {}
        self._lock = threading.Lock()
        self.granted = self.refused = 0
        self.epoch = uuid.uuid4().hex
        """Changes when a ledger starts again from scratch: a client seeing another refuses."""

    def reserve(self, ticket: str, micros: int) -> tuple[bool, str]:
        """Hold `micros` under `ticket` if it fits; returns (granted, epoch)."""
        with self._lock:
            if micros < 0 or self.spent + sum(self._holds.values()) + micros > self.total:
                self.refused += 1
                return False, self.epoch
            self._holds[ticket] = self._holds.get(ticket, 0) + micros
            self.granted += 1
            return True, self.epoch

    def commit(self, ticket: str, micros: int) -> None:
        """Replace the hold `ticket` by the call's real cost (also when the hold is unknown)."""
        with self._lock:
            self._holds.pop(ticket, None)
            self.spent += max(0, micros)

    def release(self, ticket: str) -> None:
        """Drop the hold `ticket` (unknown tickets are ignored: a refused or released hold)."""
        with self._lock:
            self._holds.pop(ticket, None)

    def state(self) -> LedgerState:
        with self._lock:
            held = sum(self._holds.values())
            return LedgerState(self.total, self.spent, held, len(self._holds), self.granted, self.refused, self.epoch)


def new_ticket() -> str:
    return uuid.uuid4().hex


def refusal(ledger_state: LedgerState, estimate: float) -> TotalBudgetExhausted:
    """The error a company gets when the ledger refuses a hold of `estimate` dollars."""
    used = ledger_state.spent + ledger_state.held
    return TotalBudgetExhausted(to_dollars(used), ledger_state.total_dollars, estimate)


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
