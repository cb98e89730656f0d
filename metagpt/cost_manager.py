"""Token and dollar accounting, and the budget rule.

One `CostManager` belongs to one company (or one `LLM`); there is no process-wide instance,
so two companies in one process keep separate budgets.

Budget rule: before each attempt of each call, `reserve` prices the worst case the call could
be charged: the most prompt tokens the usage check accepts (`prompt_allowance`) and `max_tokens`
of completion. If that could exceed what is left, `NoMoneyException` is raised before anything
is sent. A call is charged what the server reported (within that bound), or its whole
reservation when it may have been billed without an answer we could read (time-out, cut
answer, cancelled in flight); so the total never exceeds the investment. A reservation held for
an upper bound of the prompt's count (`metagpt.reservation`) is charged the worst case of the
exact count instead, which is at most what was held.

A resumed run starts from what the journal says earlier runs spent (`restore`).

Several companies can also share one total budget (`metagpt batch --investment-total`): give
each company's `CostManager` the same `ledger` (a `SharedBudget`). `areserve` then holds each
attempt's worst case in the ledger too, after the company's own check, and `settle` commits
the real cost there (or releases the hold). Without a ledger nothing changes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from loguru import logger
from pydantic import BaseModel

from metagpt.configs.prices import TOKEN_PRICES as TOKEN_PRICES
from metagpt.configs.prices import lookup_price as lookup_price
from metagpt.configs.settings import ModelPrice
from metagpt.exceptions import NoMoneyException, UserError
from metagpt.provider.base import Usage, prompt_allowance


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def parse_money(amount: float | str, what: str = "Investment") -> float:
    """A dollar amount (`3`, `"3.0"`, `"$3"`) that is a finite, positive number.

    The one check behind `--investment`, `invest()` and the budget itself: `nan` or `inf` would
    switch the budget off, since no cost is ever greater than them.

    Raises:
        UserError: naming `what`, the value and an example.
    """
    try:
        value = float(str(amount).strip().lstrip("$").strip())
    except ValueError:
        raise UserError(f"{what} {amount!r} is not an amount of dollars, e.g. 3.0.") from None
    if not math.isfinite(value):
        raise UserError(f"{what} must be a finite amount of dollars, e.g. 3.0, got {amount!r}.")
    if value <= 0:
        raise UserError(f"{what} must be positive, got {value}.")
    return value


class SharedBudget(Protocol):
    """A budget shared by several companies (see `metagpt.batch.ledger`), in dollars.

    `reserve` must not block the event loop; `commit` and `release` are fire-and-forget, and a
    shared budget that cannot answer refuses (raises `NoMoneyException`) rather than guess.
    """

    async def reserve(self, dollars: float) -> str:
        """Hold `dollars`; returns the hold's ticket. Raises `NoMoneyException` when it does not fit."""
        ...

    def commit(self, ticket: str, dollars: float) -> None:
        """Replace the hold `ticket` by what the call really cost."""
        ...

    def release(self, ticket: str) -> None:
        """Drop the hold `ticket`: the call cost nothing."""
        ...


class Reservation(float):
    """A reservation's dollars, carrying the shared budget's ticket for its hold (if any), and
    for a hold of a prompt's upper bound, the worst case of the prompt's exact count."""

    ticket: str | None
    exact: Callable[[], float] | None

    def __new__(
        cls, dollars: float, ticket: str | None = None, exact: Callable[[], float] | None = None
    ) -> Reservation:
        reservation = super().__new__(cls, dollars)
        reservation.ticket = ticket
        reservation.exact = exact
        return reservation


def unread_charge(reservation: float) -> float:
    """What a call billed without an answer we could read is charged: its whole reservation, or,
    for a hold of a prompt's upper bound, the worst case of the exact count (never more than held)."""
    exact = getattr(reservation, "exact", None)
    return float(reservation) if exact is None else min(float(reservation), exact())


class CostRecord(BaseModel):
    """Accumulated usage of one role or one model."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, usage: Usage, cost: float, calls: int = 1) -> None:
        self.calls += calls
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost += cost


class CostManager:
    """Tracks every call's tokens and dollars against an investment."""

    def __init__(self, max_budget: float | str = 3.0, price_overrides: dict[str, ModelPrice] | None = None):
        self.max_budget = max_budget
        self.price_overrides = dict(price_overrides or {})
        self.total = CostRecord()
        self.by_role: dict[str, CostRecord] = defaultdict(CostRecord)
        self.by_model: dict[str, CostRecord] = defaultdict(CostRecord)
        self._warned_models: set[str] = set()
        self._reserved = 0.0
        self.before = CostRecord()
        """What earlier runs of a resumed project spent (included in `total`)."""
        self.ledger: SharedBudget | None = None
        """A budget shared with other companies, consulted by `areserve` and `settle`."""

    @property
    def max_budget(self) -> float:
        """The investment in dollars; setting it validates the amount with `parse_money`."""
        return self._max_budget

    @max_budget.setter
    def max_budget(self, amount: float | str) -> None:
        self._max_budget = parse_money(amount)

    @property
    def total_cost(self) -> float:
        return self.total.cost

    @property
    def remaining(self) -> float:
        return self.max_budget - self.total.cost - self._reserved

    def price(self, model: str, priced: bool = True) -> ModelPrice:
        """The price of `model`; unknown priced models cost $0 with a one-time warning."""
        if not priced:
            return ModelPrice(prompt=0, completion=0)
        price = lookup_price(model, self.price_overrides)
        if price is not None:
            return price
        if model not in self._warned_models:
            self._warned_models.add(model)
            logger.warning(
                f"No price known for model {model!r}: its calls are counted as $0 and the budget cannot "
                f"protect you. Set MODEL_PRICES: {{{model}: {{prompt: <$ per 1M>, completion: <$ per 1M>}}}} "
                "in config/key.yaml."
            )
        return ModelPrice(prompt=0, completion=0)

    def cost_of(self, model: str, usage: Usage, priced: bool = True) -> float:
        price = self.price(model, priced)
        read = min(max(usage.cache_read_tokens, 0), usage.prompt_tokens)
        written = min(max(usage.cache_write_tokens, 0), usage.prompt_tokens - read)
        plain = usage.prompt_tokens - read - written
        prompt = plain * price.prompt + read * _or(price.cache_read, price.prompt)
        prompt += written * _or(price.cache_write, price.prompt)
        return (prompt + usage.completion_tokens * price.completion) / 1_000_000

    def worst_case(self, model: str, prompt_tokens: int, max_tokens: int, priced: bool = True) -> float:
        """The most a call may be charged: every usage the check accepts for this prompt count."""
        price = self.price(model, priced)
        prompt = prompt_allowance(prompt_tokens)
        per_prompt = max(price.prompt, _or(price.cache_write, 0.0), _or(price.cache_read, 0.0))
        dollars = max(prompt * per_prompt + max_tokens * price.completion, (prompt + max_tokens) * per_prompt)
        return dollars / 1_000_000

    def reserve(self, model: str, prompt_tokens: int, max_tokens: int, priced: bool = True) -> float:
        """Check the worst case of the next attempt and hold it until `settle`.

        Holding the estimate keeps concurrent calls from together overspending.
        Raises `NoMoneyException` when the worst case does not fit in what is left.
        """
        estimate = self.worst_case(model, prompt_tokens, max_tokens, priced)
        if estimate > 0 and estimate > self.remaining + 1e-12:
            raise NoMoneyException(self.total.cost, self.max_budget, estimate)
        self._reserved += estimate
        return estimate

    async def areserve(self, model: str, prompt_tokens: int, max_tokens: int, priced: bool = True) -> float:
        """`reserve`, then hold the same worst case in the shared `ledger`, if there is one.

        Raises `NoMoneyException` when either budget cannot hold it (the local hold is undone).
        """
        estimate = self.reserve(model, prompt_tokens, max_tokens, priced)
        if self.ledger is None or estimate <= 0:
            return estimate
        try:
            ticket = await self.ledger.reserve(estimate)
        except BaseException:
            self._reserved = max(0.0, self._reserved - estimate)
            raise
        return Reservation(estimate, ticket)

    def settle(
        self,
        reservation: float,
        role: str,
        model: str,
        usage: Usage | None,
        priced: bool = True,
        billed_unread: bool = False,
    ) -> float:
        """Release a reservation and record what the call used; returns its cost.

        With no usage, the call costs nothing, unless `billed_unread` says the server may have
        billed an answer we could not read: then the whole reservation is charged
        (`unread_charge`).
        """
        self._reserved = max(0.0, self._reserved - reservation)
        if usage is None:
            cost = unread_charge(reservation) if billed_unread and reservation > 0 else 0.0
        else:
            cost = self.cost_of(model, usage, priced)
        ticket = getattr(reservation, "ticket", None)
        if ticket is not None and self.ledger is not None:
            if cost > 0:
                self.ledger.commit(ticket, cost)
            else:
                self.ledger.release(ticket)
        if usage is None:
            if cost <= 0:
                return 0.0
            usage = Usage()
        self.total.add(usage, cost)
        self.by_role[role or "unknown"].add(usage, cost)
        self.by_model[model].add(usage, cost)
        return cost

    def restore(self, spent: dict[tuple[str, str], tuple[int, int, int, float]]) -> None:
        """Count what earlier runs spent, per (role, model): calls, tokens and dollars."""
        for (role, model), (calls, prompt, completion, cost) in spent.items():
            usage = Usage(prompt_tokens=prompt, completion_tokens=completion)
            for record in (self.total, self.before, self.by_role[role or "unknown"], self.by_model[model]):
                record.add(usage, cost, calls)

    def summary(self) -> str:
        """Spend against the investment, with a per-role breakdown."""
        lines = [
            f"Spent ${self.total.cost:.4f} of ${self.max_budget:.4f} "
            f"({self.total.prompt_tokens} prompt + {self.total.completion_tokens} completion tokens, "
            f"{self.total.calls} calls)"
        ]
        if self.before.calls:
            lines.append(
                f"  before resuming: ${self.before.cost:.4f} ({self.before.calls} calls); "
                f"this run: ${self.total.cost - self.before.cost:.4f} ({self.total.calls - self.before.calls} calls)"
            )
        for role, record in sorted(self.by_role.items()):
            lines.append(
                f"  {role}: ${record.cost:.4f}, {record.prompt_tokens}+{record.completion_tokens} tokens, "
                f"{record.calls} calls"
            )
        return "\n".join(lines)
