"""One company of a batch: its settings, how it ended, and the function that runs it.

Shared by every backend (`local`, `ray_backend`), which import this module and nothing above it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from metagpt.batch.ideas import Idea
from metagpt.batch.preflight import hold_first_call
from metagpt.configs.settings import Config
from metagpt.const import STATE_DB
from metagpt.cost_manager import CostManager, SharedBudget
from metagpt.exceptions import MetaGPTError, NoMoneyException

DONE, SKIPPED, BUDGET, FAILED, INTERRUPTED = "done", "skipped", "budget", "failed", "interrupted"


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


@dataclass
class BatchOptions:
    """Backend options: where the Ray cluster is, and how often a dead company restarts."""

    address: str | None = None
    shared_workspace: bool = False
    max_restarts: int = 2
    temp_dir: Path | None = None
    """Where a Ray cluster we start keeps its files and token (default: a new temporary folder)."""
    companies_per_actor: int | None = None
    """Ray: companies one actor runs at once (default: enough for one actor per CPU of the cluster)."""


class Meter:
    """A running company's spend so far, read by the batch's progress line while it runs."""

    def __init__(self) -> None:
        self.cost_manager: CostManager | None = None

    @property
    def dollars(self) -> float:
        return self.cost_manager.total.cost if self.cost_manager is not None else 0.0


def warm_up(config: Config) -> None:
    """Do once what a fresh process would otherwise do during its first company: import the
    company's modules and the report's syntax lexers, so a pool of warm workers starts companies
    as fast as one process does. The model's token vocabulary is not loaded (77 MB a worker for
    `o200k_base`): calls count their prompts by an upper bound (`metagpt.reservation`)."""
    from pygments.lexers import guess_lexer_for_filename

    import metagpt.provider.openai_api
    import metagpt.roles
    import metagpt.software_company  # noqa: F401

    guess_lexer_for_filename("main.py", "print()")


async def run_company(
    idea: Idea, settings: CompanySettings, workspace: Path, budget: SharedBudget | None, meter: Meter | None = None
) -> CompanyResult:
    """Run (or resume, or skip) one company in `workspace/<project_name>`; never raises for
    how the company ended: a budget stop or a failure is its result's status.

    A new company holds its first call in the shared `budget` before it makes its folder; one
    whose first call does not fit ends as a budget stop without a folder. Cancellation (Ctrl-C)
    propagates, after the company ended as interrupted (files kept).
    """
    from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager, QaEngineer
    from metagpt.software_company import NothingToResume, SoftwareCompany

    started = time.monotonic()
    result = CompanyResult(idea.idea, idea.project_name, str(workspace / idea.project_name))
    config = settings.config.model_copy(update={"workspace_path": workspace})
    investment = idea.investment or settings.investment
    path = workspace / idea.project_name
    company = held = None
    try:
        if (path / STATE_DB).is_file():
            company = SoftwareCompany.resume(path, config, investment)
        else:
            if budget is not None:  # a company the total cannot start makes no folder
                budget = held = await hold_first_call(config, idea.idea, budget)
            company = SoftwareCompany(config, workspace=workspace)
            roles = [ProductManager(), Architect(), ProjectManager(), Engineer(use_code_review=settings.code_review)]
            company.hire([*roles, QaEngineer()] if settings.run_tests else roles)
            company.invest(investment)
            company.start_project(idea.idea, project_name=idea.project_name)
        company.cost_manager.ledger = budget
        if meter is not None:
            meter.cost_manager = company.cost_manager
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
        if held is not None:
            held.release_unused()
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
