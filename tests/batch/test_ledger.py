"""The shared budget: integer micro-dollars, one atomic check-and-hold, refusal when unsure."""

from __future__ import annotations

import asyncio

import pytest

from metagpt.batch.ledger import Ledger, LocalBudget, to_micros
from metagpt.cost_manager import CostManager
from metagpt.exceptions import NoMoneyException, TotalBudgetExhausted
from metagpt.provider.base import Usage

COMPANIES = 50


class FloatLedger:
    """The bug the integer ledger avoids: dollars summed as floats."""

    def __init__(self, total: float):
        self.total, self.used = total, 0.0

    async def reserve(self, dollars: float) -> str:
        if self.used + dollars > self.total:
            raise TotalBudgetExhausted(self.used, self.total, dollars)
        self.used += dollars
        return "t"


class UnlockedAsyncLedger:
    """The bug a plain actor avoids: an async check that lets other calls in before the hold."""

    def __init__(self, total: float):
        self.total, self.used = to_micros(total), 0

    async def reserve(self, dollars: float) -> str:
        fits = self.used + to_micros(dollars) <= self.total
        await asyncio.sleep(0)  # a round trip, a log write: any await between check and update
        if not fits:
            raise TotalBudgetExhausted(self.used / 1e6, self.total / 1e6, dollars)
        self.used += to_micros(dollars)
        return "t"


async def race(budget, dollars: float) -> int:
    """COMPANIES companies reserving at once; how many holds were granted."""

    async def company() -> bool:
        await asyncio.sleep(0)
        try:
            await budget.reserve(dollars)
        except NoMoneyException:
            return False
        return True

    return sum(await asyncio.gather(*(company() for _ in range(COMPANIES))))


@pytest.mark.parametrize(
    ("total", "each", "fits"), [(0.3, 0.1, 3), (1.5, 0.01, 50), (0.07, 0.01, 7), (0.0025, 0.0001, 25)]
)
async def test_fifty_companies_at_once_get_exactly_what_fits(total, each, fits):
    ledger = Ledger(total)
    assert await race(LocalBudget(ledger), each) == fits
    state = ledger.state()
    assert (state.granted, state.refused, state.held) == (fits, COMPANIES - fits, fits * to_micros(each))


async def test_the_race_catches_float_sums_and_an_unlocked_async_ledger():
    """The same race fails for the two wrong ledgers: the test measures what it claims to."""
    assert await race(FloatLedger(0.3), 0.1) == 2  # 0.1 + 0.1 + 0.1 > 0.3 as floats
    assert await race(UnlockedAsyncLedger(0.3), 0.1) == COMPANIES  # every check ran before any hold
    assert await race(LocalBudget(Ledger(0.3)), 0.1) == 3


def test_amounts_round_up_to_whole_micro_dollars():
    assert [to_micros(x) for x in (0.01, 0.1, 0.3, 1.5, 1e-7, 0.0000015)] == [10_000, 100_000, 300_000, 1_500_000, 1, 2]


def test_commit_replaces_the_hold_and_release_drops_it():
    ledger = Ledger(1.0)
    assert ledger.reserve("a", 600_000)[0] and not ledger.reserve("b", 500_000)[0]
    ledger.commit("a", 200_000)
    assert ledger.reserve("b", 500_000)[0]
    ledger.release("b")
    ledger.release("never-granted")
    state = ledger.state()
    assert (state.spent, state.held, state.holds) == (200_000, 0, 0)


async def test_cost_manager_holds_each_call_in_the_shared_budget_and_commits_its_cost():
    ledger = Ledger(0.01)
    costs = CostManager(5.0)
    costs.ledger = LocalBudget(ledger)
    reserved = await costs.areserve("gpt-4o-mini", 1000, 1000)
    assert ledger.state().held == to_micros(reserved)
    cost = costs.settle(reserved, "Engineer", "gpt-4o-mini", Usage(prompt_tokens=1000, completion_tokens=100))
    assert ledger.state().held == 0 and ledger.state().spent == to_micros(cost)
    failed = await costs.areserve("gpt-4o-mini", 1000, 1000)
    assert costs.settle(failed, "Engineer", "gpt-4o-mini", None) == 0.0  # an error before any answer: released
    assert ledger.state().spent == to_micros(cost) and ledger.state().holds == 0
    cut = await costs.areserve("gpt-4o-mini", 1000, 1000)
    costs.settle(cut, "Engineer", "gpt-4o-mini", None, billed_unread=True)  # maybe billed: its whole hold
    assert ledger.state().spent == to_micros(cost) + to_micros(cut)


async def test_a_refused_hold_raises_a_budget_stop_and_undoes_the_companys_own_hold():
    costs = CostManager(5.0)
    costs.ledger = LocalBudget(Ledger(0.0001))
    with pytest.raises(TotalBudgetExhausted, match="--investment-total"):
        await costs.areserve("gpt-4o-mini", 1000, 1000)
    assert costs.remaining == pytest.approx(5.0)
    assert isinstance(TotalBudgetExhausted(0, 1, 1), NoMoneyException)  # ends like a budget stop (exit 3)


async def test_without_a_ledger_areserve_is_reserve():
    costs = CostManager(1.0)
    reserved = await costs.areserve("gpt-4o-mini", 1000, 1000)
    assert type(reserved) is float and reserved == costs.worst_case("gpt-4o-mini", 1000, 1000)


def test_what_earlier_runs_spent_counts_against_the_total():
    ledger = Ledger(1.0, before=700_000)
    assert not ledger.reserve("a", 400_000)[0] and ledger.reserve("a", 300_000)[0]
    ledger.commit("a", 100_000)
    state = ledger.state()
    assert (state.before, state.spent, state.used) == (700_000, 800_000, 800_000)


def test_a_dead_owners_holds_stay_counted_apart_and_a_late_settlement_replaces_them():
    ledger = Ledger(1.0)
    assert ledger.reserve("cut", 300_000, "dead")[0] and ledger.reserve("late", 200_000, "dead")[0]
    assert ledger.reserve("alive", 100_000, "other")[0]
    assert ledger.abandon("dead") == 500_000 and ledger.abandon("dead") == 0
    state = ledger.state()
    assert (state.held, state.lost, state.lost_holds, state.used) == (100_000, 500_000, 2, 600_000)
    assert not ledger.reserve("next", 500_000, "other")[0]  # the lost holds may have been billed
    ledger.commit("late", 50_000)  # a commit sent before the owner died, arriving after
    ledger.release("alive")
    state = ledger.state()
    assert (state.spent, state.held, state.lost, state.lost_holds) == (50_000, 0, 300_000, 1)
    assert ledger.abandon("") == 0 and ledger.reserve("next", 650_000, "other")[0]
