"""`metagpt "an idea"` (also `python startup.py`, `metagpt run`): a software company on one idea.

The run's options, set-up, rounds and the report of how it ended. With `--recover-path DIR` it
continues an interrupted run (as `metagpt resume DIR`), with `--inc` it changes a project.

Every way a run can end prints a last line that says what happened and, once the project
folder exists, where the files written so far are; the exit code tells the cause: 0 done,
1 unexpected error, 2 input or configuration, 3 budget, 4 model endpoint, 5 model output,
128 + N for signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). Tracebacks only with `-v`.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer

LOCAL_NOTICE = (
    "No API key or base URL configured: running on the embedded local model {model} (demo quality). "
    "For real results set OPENAI_API_KEY in config/key.yaml, or OPENAI_BASE_URL for a local server "
    "(see README)."
)


def _echo(text: str) -> None:
    from metagpt.logs import scrub

    typer.echo(scrub(text), err=True)


DEFAULT_INVESTMENT = 3.0


def startup(
    idea: Annotated[
        str | None, typer.Argument(help="What to build, e.g. 'a command-line snake game'.", metavar="IDEA")
    ] = None,
    investment: Annotated[
        float | None,
        typer.Option(help="Budget in dollars; the run stops before exceeding it [default: 3.0; on resume, the run's]."),
    ] = None,
    n_round: Annotated[
        int | None,
        typer.Option(help="Maximum rounds [default: 5; with --run-tests enough for QA].", min=1),
    ] = None,
    implement: Annotated[bool, typer.Option(help="Hire the Engineer to write the code.")] = True,
    code_review: Annotated[bool, typer.Option(help="The Engineer reviews (and fixes) each file it wrote.")] = True,
    run_tests: Annotated[
        bool, typer.Option(help="Hire a QA engineer: write tests, run them, send failures back to be fixed.")
    ] = False,
    project_name: Annotated[str | None, typer.Option(help="Folder name under the workspace.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name (overrides OPENAI_API_MODEL).")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (overrides OPENAI_BASE_URL).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug logs, where each setting came from, and tracebacks.")
    ] = False,
    recover_path: Annotated[
        Path | None,
        typer.Option(help="Resume the interrupted run in this project folder (as `metagpt resume DIR`)."),
    ] = None,
    inc: Annotated[
        bool, typer.Option("--inc", help="Change an existing project (--project-path) instead of starting one.")
    ] = False,
    project_path: Annotated[
        Path | None,
        typer.Option(help="The project to change, e.g. workspace/cli_snake_game; implies --inc."),
    ] = None,
    allow_dirty: Annotated[
        bool,
        typer.Option("--allow-dirty", help="With --inc: commit uncommitted changes as work in progress first."),
    ] = False,
    experience: Annotated[
        bool | None,
        typer.Option(
            "--experience/--no-experience",
            help="Use the workspace's experience pool (reuse steps whose tests passed) [default: EXP_POOL_ENABLED].",
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="A config2.yaml (llm:, roles:) over config/*.yaml; command-line options win."),
    ] = None,
    init_config: Annotated[
        bool, typer.Option("--init-config", help="Write a commented ~/.metagpt/config2.yaml to fill in, and stop.")
    ] = False,
) -> None:
    """Run a software company on IDEA: PRD, system design, tasks and code, in workspace/."""
    from metagpt.logs import setup_console

    setup_console(verbose)
    if init_config:
        raise typer.Exit(_init_config())
    if recover_path is not None and idea:
        _echo("Error: give an IDEA or --recover-path, not both (the idea is read from the project).")
        raise typer.Exit(2)
    if recover_path is None and idea is None:
        _echo('Error: missing IDEA: metagpt "a command-line snake game" (or metagpt resume DIR).')
        raise typer.Exit(2)
    inc = inc or project_path is not None
    if inc and recover_path is not None:
        _echo("Error: --inc changes a project and --recover-path resumes one; give one of them.")
        raise typer.Exit(2)
    if inc and project_path is None and not project_name:
        _echo('Error: --inc needs the project to change: metagpt "the change" --project-path workspace/<project>.')
        raise typer.Exit(2)
    if allow_dirty and not inc:
        _echo("Error: --allow-dirty applies to changing a project (--inc --project-path DIR).")
        raise typer.Exit(2)
    run = Run(
        idea or "", investment, n_round, implement, project_name, verbose,
        code_review=code_review, run_tests=run_tests, model=model, base_url=base_url, experience=experience,
        config_file=config_file,
    )  # fmt: skip
    run.resume = recover_path
    run.change = (project_path, allow_dirty) if inc else None
    raise typer.Exit(asyncio.run(run.main()))


class Run:
    """One CLI run: set-up, the company's rounds, and the report of how it ended."""

    def __init__(
        self,
        idea: str,
        investment: float | None,
        n_round: int | None,
        implement: bool,
        project_name: str | None,
        verbose: bool,
        code_review: bool = True,
        run_tests: bool = False,
        **overrides: Any,
    ):
        self.idea, self.investment, self.n_round = idea, investment, n_round
        self.implement, self.project_name, self.verbose = implement, project_name, verbose
        self.overrides = overrides
        self.code_review, self.run_tests = code_review, run_tests
        self.company: Any = None
        self._caught: list[signal.Signals] = []
        self.started = time.monotonic()
        self.resume: Path | None = None
        """A project folder whose interrupted run this one continues."""
        self.change: tuple[Path | None, bool] | None = None
        """With `--inc`: the project folder to change (None: `--project-name` under the workspace)
        and whether uncommitted changes are committed first."""

    async def main(self) -> int:
        """Run the company; returns the exit code after printing how the run ended."""
        from metagpt.exceptions import MetaGPTError, NoMoneyException
        from metagpt.software_company import NothingToResume

        self._catch_signals(asyncio.current_task())
        try:
            await self._start()
            await self.company.run(n_round=self._rounds())
        except asyncio.CancelledError:
            if self.signal is None:
                raise
            _echo(f"Interrupted by {self.signal.name}.")
            return self._end(128 + int(self.signal))
        except NoMoneyException as exc:
            _echo(f"Stopped: {exc}")
            return self._end(exc.exit_code)
        except NothingToResume as exc:
            _echo(str(exc))
            return 0
        except MetaGPTError as exc:
            self._traceback()
            _echo(f"Error: {exc}")
            return self._end(exc.exit_code)
        except Exception as exc:  # a bug, or an OS error nothing above expected: still one line
            self._traceback()
            _echo(f"Error: unexpected {type(exc).__name__}: {exc}. Run with -v for the traceback.")
            return self._end(1)
        finally:
            if self.company is not None:
                await self.company.context.aclose()
        return self._end(0)

    async def _start(self) -> None:
        from metagpt.configs.settings import Config
        from metagpt.cost_manager import parse_money
        from metagpt.logs import add_run_log, register_secret
        from metagpt.provider import prepare
        from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager, QaEngineer
        from metagpt.software_company import SoftwareCompany
        from metagpt.team import check_idea

        if self.investment is not None:
            parse_money(self.investment, "Investment")
        _check_text(self.idea, "The idea")
        _check_text(self.project_name or "", "--project-name")
        if self.resume is None:  # a new run's idea, or a change's request
            check_idea(self.idea)  # before any setting is loaded or a model started for it
        config, sources = Config.load_with_sources(
            None, config_file=self.overrides.get("config_file"), openai_api_model=self.overrides["model"],
            openai_base_url=self.overrides["base_url"], exp_pool_enabled=self.overrides.get("experience"),
        )  # fmt: skip
        self.sources = sources
        register_secret(config.openai_api_key)
        prepare(config)  # the SDK and the vocabulary load while the project is set up
        if self.verbose:
            _echo("Settings (command line > key.yaml > config.yaml > environment > default):")
            for line in config.describe(sources):
                _echo(f"  {line}")
        if self.resume is not None:
            from metagpt.resume import resume_project

            company = resume_project(self.resume, config, self.investment)
            self.company = company
            assert company.project is not None  # resume_project opened it
            spent = company.cost_manager.total_cost
            _echo(f"Resuming {company.project.path}: ${spent:.4f} spent before, of ${company.investment:.4f}.")
            add_run_log(company.project.path)
            self.started = time.monotonic()
            return
        if self.change is not None:
            self._start_change(config)
            return
        company = SoftwareCompany(config)
        if config.resolved_api_type == "local":
            _echo(LOCAL_NOTICE.format(model=company.context.provider.model))
        roles = [ProductManager(), Architect(), ProjectManager()]
        if self.implement:
            roles.append(Engineer(use_code_review=self.code_review))
            if self.run_tests:
                roles.append(QaEngineer())
        company.hire(roles)
        if self.verbose:
            self._describe_models(company)
        company.invest(self.investment if self.investment is not None else DEFAULT_INVESTMENT)
        self.company = company
        folder = company.start_project(self.idea, project_name=self.project_name)
        add_run_log(folder)
        self.started = time.monotonic()

    def _start_change(self, config: Any) -> None:
        """`--inc`: open the project to change (refusing a missing folder or a dirty tree)."""
        from metagpt.incremental.company import ChangeCompany
        from metagpt.logs import add_run_log

        path, allow_dirty = self.change or (None, False)
        if path is None:
            path = config.resolve_workspace() / (self.project_name or "")
        company = ChangeCompany(config)
        if config.resolved_api_type == "local":
            _echo(LOCAL_NOTICE.format(model=company.context.provider.model))
        company.hire_for_change(run_tests=self.run_tests)
        company.invest(self.investment if self.investment is not None else DEFAULT_INVESTMENT)
        folder = company.open_project(path, self.idea, allow_dirty=allow_dirty)
        self.company = company
        add_run_log(folder)
        self.started = time.monotonic()

    def _describe_models(self, company: Any) -> None:
        """`-v`: the provider and model each role asks, and the setting that chose them."""
        from metagpt.configs.catalogue import describe_model

        config = company.context.config
        _echo("Models:")
        for role in company.env.roles.values():
            own = config.for_role(type(role).__name__, role.profile, role.name)
            where = self.sources.get("roles", "ROLES").removesuffix("ROLES") + "roles" if own is not config else None
            _echo(f"  {role.profile}: {describe_model(own, self.sources, where)}")

    def _rounds(self) -> int:
        """`--n-round`, or the SOP's 5 rounds plus a write-fix-rerun pair per allowed test round."""
        needed = 5 + (2 * self.company.context.config.test_round_allowed if self.run_tests else 0)
        if self.resume is not None:
            return self.n_round or self.company._n_round or needed
        if self.n_round is None:
            return needed
        if self.n_round < needed and self.run_tests:
            _echo(f"Note: --n-round {self.n_round} may end QA early; its test rounds can take up to {needed} rounds.")
        return self.n_round

    def _end(self, code: int) -> int:
        """Print the summary (once a project exists) and, on failure, where its files are."""
        project = self.company.project if self.company is not None else None
        if project is not None:
            _echo(summary(self.company, time.monotonic() - self.started))
            if code:
                _echo(f"Files written so far are in {project.path}")
        return code

    def _catch_signals(self, task: asyncio.Task | None) -> None:
        """Turn SIGINT, SIGTERM and SIGHUP into a cancellation of the run, which then reports."""
        from metagpt.utils.stop_signals import cancel_on_stop_signals

        self._caught = cancel_on_stop_signals(task)

    @property
    def signal(self) -> signal.Signals | None:
        """The stop signal that cancelled the run, if one did."""
        return self._caught[0] if self._caught else None

    def _traceback(self) -> None:
        if self.verbose:
            import traceback

            _echo(traceback.format_exc().rstrip())


def _init_config() -> int:
    """`--init-config`: write MetaGPT 0.7's commented `~/.metagpt/config2.yaml`, never over one."""
    from metagpt.configs.template import write_home_config
    from metagpt.exceptions import UserError

    try:
        path = write_home_config()
    except UserError as exc:
        _echo(f"Error: {exc}")
        return exc.exit_code
    _echo(f"Wrote {path}: fill in llm: (and roles:, for a model per role); `metagpt -v IDEA` shows what is used.")
    return 0


def _check_text(text: str, what: str) -> None:
    """Refuse text holding bytes that were not valid UTF-8 (they would fail every file write)."""
    from metagpt.exceptions import UserError

    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(
            f"{what} holds bytes that are not UTF-8 text; pass it as UTF-8 (check the terminal's locale)."
        ) from None


def summary(company, seconds: float) -> str:
    """Where the output went, what was written, tokens, dollars and speed."""
    from metagpt.actions.code_design import from_design

    project = company.project
    cost = company.cost_manager
    lines = [f"Project: {project.path}", f"Files written ({len(project.files)}):"]
    lines += [f"  {path.relative_to(project.path)}" for path in project.files]
    if stand_ins := from_design(project.path):
        lines.append(f"Written from the design, not by the model (its code did not parse): {', '.join(stand_ins)}")
    report = company.qa_report
    if report is not None:
        lines.append(f"Tests: {report.final} (docs/qa_report.md)")
    lines.append(cost.summary())
    tokens = cost.total.completion_tokens
    lines.append(f"Time: {seconds:.1f}s, {tokens / seconds if seconds else 0:.1f} completion tokens/s overall")
    provider = company.context._provider  # None when it could not be created: nothing to report
    if hasattr(provider, "generation_tokens_per_second"):
        lines.append(
            f"Local model: {provider.generation_tokens_per_second:.1f} generation tokens/s, "
            f"{provider.prompt_tokens_per_second:.1f} prompt tokens/s"
        )
    lines += company.summary_lines()
    lines += company.published.lines() if company.published else []
    return "\n".join(lines)
