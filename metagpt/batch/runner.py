"""`run_batch`: many companies, each in its own project folder, under one shared budget.

    results = await run_batch(ideas, workers=4, backend="asyncio", investment=1.0, investment_total=5.0)
    for result in results:
        print(result.project, result.status, result.cost)

The loop contract: every idea becomes one company (`run_company`), run by a backend with at
most `workers` companies at once. Each company has its own budget (`investment`) and, with
`investment_total`, holds every call's worst case in one shared ledger first, so all companies
together never spend more than the total. A company stopped by either budget ends like a
budget stop of `metagpt`: its files are kept, its status is `budget`. A project whose journal
says its last run finished is skipped (`skipped`); one with an unfinished journal is resumed.
The total is cumulative: a resumed batch's ledger starts at what its projects' journals say they
spent. A total that cannot hold any new company's first call starts nothing and makes no folder
(`TotalBudgetTooSmall`); neither does a company whose first call does not fit when its turn comes.

Backends implement `Backend.run`: `asyncio` (this process, `local.py`) and `ray` (a pool of warm
actors, one company at a time each, `ray_backend.py`, the only module that imports Ray); each
runs `company.run_company` and tells a `progress.Tracker` what runs and what it has spent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from metagpt.batch.company import BatchOptions, CompanyResult, CompanySettings
from metagpt.batch.ideas import Idea, name_ideas
from metagpt.batch.ledger import Ledger, LedgerState, to_micros
from metagpt.batch.preflight import check_fits, standing
from metagpt.batch.progress import Tracker
from metagpt.configs.settings import Config
from metagpt.cost_manager import parse_money
from metagpt.exceptions import UserError

BACKENDS = ("asyncio", "ray")


class BatchResults(list):
    """The results, in the order of the ideas, with the shared ledger's final state."""

    ledger: LedgerState | None = None


class Backend(Protocol):
    """Runs companies, at most `workers` at once, and collects their results as they end."""

    name: str

    async def run(
        self,
        ideas: Sequence[Idea],
        settings: CompanySettings,
        workspace: Path,
        workers: int,
        ledger: Ledger | None,
        tracker: Tracker,
    ) -> list[CompanyResult]:
        """One result per idea, in the order of `ideas`; tells `tracker` as companies start,
        spend and end (by their index in `ideas`)."""
        ...


def as_ideas(ideas: Sequence[Idea | str]) -> list[Idea]:
    """`Idea`s from ideas or plain strings (named as in an ideas file)."""
    if all(isinstance(item, Idea) for item in ideas):
        return list(ideas)  # type: ignore[arg-type]
    items = [
        (item.idea, item.project_name, item.investment) if isinstance(item, Idea) else (str(item), None, None)
        for item in ideas
    ]
    return name_ideas(items)


def make_backend(name: str, options: BatchOptions) -> Backend:
    """The backend called `name`; Ray is imported only when asked for."""
    if name == "asyncio":
        from metagpt.batch.local import AsyncioBackend

        return AsyncioBackend()
    if name == "ray":
        from metagpt.batch.ray_backend import RayBackend

        return RayBackend(options)
    raise UserError(f"Unknown backend {name!r}; use --backend asyncio or --backend ray.")


async def run_batch(
    ideas: Sequence[Idea | str],
    *,
    workers: int = 2,
    backend: str | Backend = "asyncio",
    investment: float = 3.0,
    investment_total: float | None = None,
    config: Config | None = None,
    workspace: Path | str | None = None,
    code_review: bool = True,
    run_tests: bool = False,
    n_round: int | None = None,
    resume: bool = False,
    options: BatchOptions | None = None,
    on_result: Callable[[CompanyResult], None] | None = None,
    tracker: Tracker | None = None,
) -> BatchResults:
    """Run one company per idea, at most `workers` at once; returns their results in order.

    `on_result` is told each result as its company ends; `tracker` (for a progress line) is
    told what runs and what it has spent.

    Raises:
        UserError: bad figures, an unknown backend, or (without `resume`) a project folder
            that already exists.
        TotalBudgetTooSmall: what is left of `investment_total` fits no new company's first call.
    """
    ideas = as_ideas(ideas)
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}.")
    investment = parse_money(investment, "--investment")
    total = parse_money(investment_total, "--investment-total") if investment_total is not None else None
    config = config or Config.default()
    root = Path(workspace).resolve() if workspace is not None else config.resolve_workspace().resolve()
    if not resume:
        existing = [idea.project_name for idea in ideas if (root / idea.project_name).exists()]
        if existing:
            raise UserError(
                f"{root / existing[0]} exists already ({len(existing)} of the batch's folders do): rerun with "
                "--resume to continue them, or choose another --workspace."
            )
    ledger = None
    if total is not None:
        standings = {idea.project_name: standing(root / idea.project_name) for idea in ideas} if resume else {}
        before = sum(found.spent for found in standings.values() if found is not None)
        ledger = Ledger(total, before=to_micros(before))
        await check_fits(ideas, standings, config, ledger)
    root.mkdir(parents=True, exist_ok=True)
    runner = make_backend(backend, options or BatchOptions()) if isinstance(backend, str) else backend
    settings = CompanySettings(config, investment, code_review, run_tests, n_round)
    tracker = tracker or Tracker()
    tracker.on_result = tracker.on_result or on_result
    tracker.begin(len(ideas), total)
    results = BatchResults(await runner.run(ideas, settings, root, workers, ledger, tracker))
    results.ledger = getattr(runner, "ledger_state", None) or (ledger.state() if ledger is not None else None)
    return results
