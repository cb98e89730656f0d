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

Backends implement `Backend.run`: `asyncio` (this process, `local.py`) and `ray` (one actor per
company, `ray_backend.py`, the only module that imports Ray).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from metagpt.batch.ideas import Idea, name_ideas
from metagpt.batch.ledger import Ledger, LedgerState
from metagpt.config import Config
from metagpt.const import STATE_DB
from metagpt.cost_manager import SharedBudget, parse_money
from metagpt.exceptions import MetaGPTError, NoMoneyException, UserError

DONE, SKIPPED, BUDGET, FAILED, INTERRUPTED = "done", "skipped", "budget", "failed", "interrupted"
BACKENDS = ("asyncio", "ray")


@dataclass(frozen=True)
class CompanySettings:
    """What every company of a batch shares: config and the team's options."""

    config: Config
    investment: float = 3.0
    code_review: bool = True
    run_tests: bool = False
    n_round: int | None = None

    def rounds(self) -> int:
        """`n_round`, or the SOP's 5 rounds plus a write-fix-rerun pair per allowed test round."""
        return self.n_round or 5 + (2 * self.config.test_round_allowed if self.run_tests else 0)


@dataclass
class CompanyResult:
    """How one company ended. Figures include earlier runs of a resumed project."""

    idea: str
    project_name: str
    project: str = ""
    """The project folder in the driver's workspace."""
    status: str = DONE
    exit_code: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    error: str = ""
    node: str = ""
    """Where it ran (the Ray node id; empty in this process)."""
    restarts: int = 0
    """Times it was sent again after its worker died or became unreachable (it then resumed)."""

    def as_dict(self) -> dict:
        return asdict(self)


class BatchResults(list):
    """The results, in the order of the ideas, with the shared ledger's final state."""

    ledger: LedgerState | None = None


Progress = Callable[[str, CompanyResult | None, "BatchResults"], None]
"""Told `("started", None, ...)`-style events: `started` (result is None then) or `ended`."""


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
        on_result: Callable[[CompanyResult], None],
    ) -> list[CompanyResult]:
        """One result per idea, in the order of `ideas`."""
        ...


async def run_company(
    idea: Idea, settings: CompanySettings, workspace: Path, budget: SharedBudget | None
) -> CompanyResult:
    """Run (or resume, or skip) one company in `workspace/<project_name>`; never raises for
    how the company ended: a budget stop or a failure is its result's status.

    Cancellation (Ctrl-C) propagates, after the company ended as interrupted (files kept).
    """
    from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager, QaEngineer
    from metagpt.software_company import NothingToResume, SoftwareCompany

    started = time.monotonic()
    result = CompanyResult(idea.idea, idea.project_name, str(workspace / idea.project_name))
    config = settings.config.model_copy(update={"workspace_path": workspace})
    investment = idea.investment or settings.investment
    path = workspace / idea.project_name
    company = None
    try:
        if (path / STATE_DB).is_file():
            company = SoftwareCompany.resume(path, config, investment)
        else:
            company = SoftwareCompany(config, workspace=workspace)
            roles = [ProductManager(), Architect(), ProjectManager(), Engineer(use_code_review=settings.code_review)]
            company.hire([*roles, QaEngineer()] if settings.run_tests else roles)
            company.invest(investment)
            company.start_project(idea.idea, project_name=idea.project_name)
        company.cost_manager.ledger = budget
        await company.run(n_round=settings.rounds())
    except NothingToResume:
        result.status = SKIPPED
        _journal_figures(path, result)
    except NoMoneyException as exc:
        result.status, result.exit_code, result.error = BUDGET, exc.exit_code, str(exc)
    except MetaGPTError as exc:
        result.status, result.exit_code, result.error = FAILED, exc.exit_code, str(exc)
    except Exception as exc:  # a bug in one company must not stop the others: reported as its result
        result.status, result.exit_code, result.error = FAILED, 1, f"unexpected {type(exc).__name__}: {exc}"
    finally:
        if company is not None:
            await company.context.aclose()
    if company is not None:
        total = company.cost_manager.total
        result.calls, result.cost = total.calls, total.cost
        result.prompt_tokens, result.completion_tokens = total.prompt_tokens, total.completion_tokens
        if company.project is not None:
            result.project = str(company.project.path)
    result.seconds = time.monotonic() - started
    return result


def _journal_figures(path: Path, result: CompanyResult) -> None:
    """A skipped project's figures, from its journal."""
    from metagpt.journal import Journal

    journal = Journal(path / STATE_DB)
    try:
        for calls, prompt, completion, cost in journal.spent(before_current=False).values():
            result.calls += calls
            result.prompt_tokens += prompt
            result.completion_tokens += completion
            result.cost += cost
    finally:
        journal.close()


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


@dataclass
class BatchOptions:
    """Backend options: where the Ray cluster is, and how often a dead company restarts."""

    address: str | None = None
    shared_workspace: bool = False
    max_restarts: int = 2
    temp_dir: Path | None = None
    """Where a Ray cluster we start keeps its files and token (default: a new temporary folder)."""


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
) -> BatchResults:
    """Run one company per idea, at most `workers` at once; returns their results in order.

    Raises:
        UserError: bad figures, an unknown backend, or (without `resume`) a project folder
            that already exists.
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
    root.mkdir(parents=True, exist_ok=True)
    runner = make_backend(backend, options or BatchOptions()) if isinstance(backend, str) else backend
    settings = CompanySettings(config, investment, code_review, run_tests, n_round)
    ledger = Ledger(total) if total is not None else None
    results = BatchResults(await runner.run(ideas, settings, root, workers, ledger, on_result or (lambda result: None)))
    results.ledger = getattr(runner, "ledger_state", None) or (ledger.state() if ledger is not None else None)
    return results
