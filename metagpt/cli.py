"""The `metagpt` command (also `python startup.py`): run a software company on one idea."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

LOCAL_NOTICE = (
    "No API key or base URL configured: running on the embedded local model {model} (demo quality). "
    "For real results set OPENAI_API_KEY in config/key.yaml, or OPENAI_BASE_URL for a local server "
    "(see README)."
)


def _echo(text: str) -> None:
    typer.echo(text, err=True)


@app.command()
def startup(
    idea: Annotated[str, typer.Argument(help="What to build, e.g. 'a command-line snake game'.", metavar="IDEA")],
    investment: Annotated[float, typer.Option(help="Budget in dollars; the run stops before exceeding it.")] = 3.0,
    n_round: Annotated[int, typer.Option(help="Maximum number of rounds.", min=1)] = 5,
    implement: Annotated[bool, typer.Option(help="Hire the Engineer to write the code.")] = True,
    project_name: Annotated[str | None, typer.Option(help="Folder name under the workspace.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name (overrides OPENAI_API_MODEL).")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (overrides OPENAI_BASE_URL).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs and tracebacks.")] = False,
) -> None:
    """Run a software company: PRD, system design, tasks and code for IDEA, in workspace/."""
    from metagpt.exceptions import MetaGPTError
    from metagpt.logs import setup_console

    setup_console(verbose)
    try:
        code = asyncio.run(_run(idea, investment, n_round, implement, project_name, model=model, base_url=base_url))
    except MetaGPTError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        _echo(f"Error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _echo("Interrupted; files written so far are kept.")
        raise typer.Exit(130) from None
    raise typer.Exit(code)


async def _run(
    idea: str,
    investment: float,
    n_round: int,
    implement: bool,
    project_name: str | None,
    **overrides: str | None,
) -> int:
    from metagpt.config import Config
    from metagpt.exceptions import MetaGPTError, NoMoneyException
    from metagpt.logs import add_run_log
    from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
    from metagpt.software_company import SoftwareCompany

    config = Config.load(None, openai_api_model=overrides["model"], openai_base_url=overrides["base_url"])
    company = SoftwareCompany(config)
    if config.resolved_api_type == "local":
        _echo(LOCAL_NOTICE.format(model=company.context.provider.model))
    roles = [ProductManager(), Architect(), ProjectManager()] + ([Engineer()] if implement else [])
    company.hire(roles)
    company.invest(investment)
    folder = company.start_project(idea, project_name=project_name)
    add_run_log(folder)
    started = time.monotonic()
    try:
        await company.run(n_round=n_round)
    except NoMoneyException as exc:
        _echo(f"Stopped: {exc}")
        _echo(summary(company, time.monotonic() - started))
        return exc.exit_code
    except MetaGPTError:
        _echo(f"Files written so far are in {company.project.path}")
        raise
    finally:
        await company.context.aclose()
    _echo(summary(company, time.monotonic() - started))
    return 0


def summary(company, seconds: float) -> str:
    """Where the output went, what was written, tokens, dollars and speed."""
    project = company.project
    cost = company.cost_manager
    lines = [f"Project: {project.path}", f"Files written ({len(project.files)}):"]
    lines += [f"  {path.relative_to(project.path)}" for path in project.files]
    lines.append(cost.summary())
    tokens = cost.total.completion_tokens
    lines.append(f"Time: {seconds:.1f}s, {tokens / seconds if seconds else 0:.1f} completion tokens/s overall")
    provider = company.context.provider
    if hasattr(provider, "generation_tokens_per_second"):
        lines.append(
            f"Local model: {provider.generation_tokens_per_second:.1f} generation tokens/s, "
            f"{provider.prompt_tokens_per_second:.1f} prompt tokens/s"
        )
    return "\n".join(lines)


def main() -> None:
    """Console-script entry point."""
    app(prog_name=Path(sys.argv[0]).name)
