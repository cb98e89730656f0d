"""Before a batch starts anything: what its projects spent already, and whether a call fits.

`run_batch` asks this module before it creates a folder:

* `standing`: what a project's journal says it spent (charged calls, and calls a killed process
  left in flight at their worst case), and whether its last run finished. A resumed batch's
  ledger starts at the sum, so `--investment-total` bounds all its runs together.
* `first_call_dollars`: what a new company's first call (the Product Manager's PRD) holds in the
  budget before it is sent, computed by the same code the call itself runs (`LLM.prepare` and
  `LLM.reservation`). A total left too small for the smallest such call could pay for nothing:
  the batch then stops before its first folder (`check_fits`). Each new company holds its first
  call before it makes its folder (`hold_first_call`): one that cannot ends as a budget stop
  with no folder, and one that made its folder gets that hold for its first call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from metagpt.batch.ideas import Idea
from metagpt.batch.ledger import Ledger, to_dollars, to_micros
from metagpt.configs.settings import Config
from metagpt.const import STATE_DB
from metagpt.cost_manager import SharedBudget
from metagpt.exceptions import NoMoneyException, TotalBudgetTooSmall


@dataclass(frozen=True)
class Standing:
    """A project folder as its journal left it."""

    spent: float
    """Dollars charged, plus the worst case of calls left in flight by a killed process."""
    finished: bool


def standing(project: Path) -> Standing | None:
    """What the journal of `project` says; None when it has none (a new company)."""
    from metagpt.journal.queries import last_run_status, open_readonly, spent_and_held

    path = project / STATE_DB
    if not path.is_file():
        return None
    db = open_readonly(path)
    try:
        charged, held = spent_and_held(db)
        return Standing(charged + held, last_run_status(db) == "finished")
    finally:
        db.close()


async def first_call_dollars(config: Config, ideas: list[str], exact: bool = True) -> list[float]:
    """The budget hold of a new company's first call for each idea: the worst case of the Product
    Manager's first PRD request, as `LLM.request` prices it before sending it: of its prompt's
    exact count, or with `exact=False` of the upper bound the call holds first when it fits
    (`metagpt.reservation`), which needs no vocabulary."""
    from metagpt.actions.write_prd import WritePRD
    from metagpt.context import Context
    from metagpt.reservation import exact_prompt
    from metagpt.roles import ProductManager
    from metagpt.roles.role_context import working_scope

    context = Context(config)
    try:
        manager = ProductManager(context=context)
        [write_prd] = manager.actions
        assert isinstance(write_prd, WritePRD)
        llm = manager.llm
        with working_scope(llm, context):  # the action asks its role's model, as in a run
            requests = [write_prd.first_request(idea) for idea in ideas]
        prepared = [llm.prepare(request) for request in requests]
        if exact:
            prepared = [exact_prompt(llm.provider, request) for request in prepared]
        return [llm.reservation(request) for request in prepared]
    finally:
        await context.aclose()


async def check_fits(ideas: list[Idea], standings: dict[str, Standing | None], config: Config, ledger: Ledger) -> None:
    """Raise `TotalBudgetTooSmall` when no new company's first call fits what is left of the total.

    A batch with an unfinished project always starts: a resumed company replays its journal's
    answers at no cost. One whose projects all finished needs no call.
    """
    if any(found is not None and not found.finished for found in standings.values()):
        return
    new = [idea.idea for idea in ideas if standings.get(idea.project_name) is None]
    if not new:
        return
    left = ledger.total - ledger.before
    if to_micros(min(await first_call_dollars(config, new, exact=False))) <= left:
        return  # fits by the bound: no need to count exactly
    smallest = min(await first_call_dollars(config, new))
    if to_micros(smallest) > left:
        raise TotalBudgetTooSmall(to_dollars(ledger.total), to_dollars(ledger.before), smallest)


async def hold_first_call(config: Config, idea: str, budget: SharedBudget) -> FirstCallHeld:
    """Hold the first call of a new company for `idea` in the shared `budget` before the company
    makes its folder, as the call itself will hold it (`metagpt.reservation.hold`): the worst case
    of its prompt's upper bound when that fits, else of its exact count. Raises the budget's
    refusal (`NoMoneyException`) when neither fits."""
    [dollars] = await first_call_dollars(config, [idea], exact=False)
    try:
        return FirstCallHeld(budget, await budget.reserve(dollars), dollars)
    except NoMoneyException:
        [dollars] = await first_call_dollars(config, [idea])
        return FirstCallHeld(budget, await budget.reserve(dollars), dollars)


class FirstCallHeld:
    """A `SharedBudget` whose first hold was taken in advance (`hold_first_call`): the company's
    first call gets that hold, so a company that made its folder can always make its first call,
    however many others reserved meanwhile.

    A first ask larger than the advance (the bound, when the advance is of the exact count) is
    tried while the advance is kept: refused, the advance still serves the call's next, exact, ask.
    """

    def __init__(self, budget: SharedBudget, ticket: str, dollars: float):
        self.budget = budget
        self._held: tuple[str, float] | None = (ticket, dollars)

    async def reserve(self, dollars: float) -> str:
        if self._held is None:
            return await self.budget.reserve(dollars)
        ticket, held = self._held
        if dollars <= held:
            self._held = None
            return ticket  # its commit replaces the (equal or larger) hold by the real cost
        granted = await self.budget.reserve(dollars)  # refused: the advance stays
        self._held = None
        self.budget.release(ticket)
        return granted

    def commit(self, ticket: str, dollars: float) -> None:
        self.budget.commit(ticket, dollars)

    def release(self, ticket: str) -> None:
        self.budget.release(ticket)

    def release_unused(self) -> None:
        """Give the advance hold back if no call took it (the company ended before its first call)."""
        held, self._held = self._held, None
        if held is not None:
            self.budget.release(held[0])
