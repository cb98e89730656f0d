"""`metagpt interpret "INSTRUCTION"`: the Data Interpreter on one instruction, in workspace/<name>/.

    metagpt interpret "Plot the sales in sales.csv by month" --data sales.csv [--max-tasks N]
        [--project-name NAME] [--investment X] [--tool NAME ...] [--allow-host HOST ...]

`--data` files are copied into the project folder (where the code runs); a PDF, text or
records file among them also becomes the knowledge base the `search_knowledge_base` tool
searches. Exit codes as for the company, plus 6 when a task failed after every attempt and
re-plan; 130 on Ctrl-C (the kernel is shut down first).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

STOPPED_EXIT = 6
"""Exit code when the interpreter stopped without finishing (a task failed every attempt and re-plan)."""


def _echo(text: str) -> None:
    from metagpt.logs import scrub

    typer.echo(scrub(text), err=True)


def interpret(
    instruction: Annotated[str, typer.Argument(help="What to do, e.g. 'the mean of column x in data.csv'.")],
    data: Annotated[list[Path] | None, typer.Option("--data", help="Input files, copied into the project.")] = None,
    max_tasks: Annotated[int, typer.Option(help="Most tasks in a plan.", min=1, max=20)] = 5,
    project_name: Annotated[str | None, typer.Option(help="Folder name under the workspace.")] = None,
    investment: Annotated[float | None, typer.Option(help="Budget in dollars [default: 3.0].")] = None,
    tool: Annotated[list[str] | None, typer.Option("--tool", help="Tools the code may call [default: all].")] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option("--allow-host", help="Hosts the HTTP JSON tool may call (adds to HTTP_ALLOWED_HOSTS)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs and tracebacks.")] = False,
) -> None:
    """Plan, write and run code in a sandboxed kernel until INSTRUCTION is done; print the answer."""
    from metagpt.logs import setup_console

    setup_console(verbose)
    raise typer.Exit(
        asyncio.run(
            _main(instruction, data or [], max_tasks, project_name, investment, tool, allow_host or [], verbose)
        )
    )


async def _main(instruction, data, max_tasks, project_name, investment, tools, hosts, verbose) -> int:
    from metagpt.exceptions import MetaGPTError, UserError
    from metagpt.logs import echo
    from metagpt.utils.stop_signals import cancel_on_stop_signals

    caught = cancel_on_stop_signals(asyncio.current_task())
    context = None
    try:
        if not instruction.strip():
            raise UserError('Missing INSTRUCTION: metagpt interpret "the mean of column x in data.csv" --data data.csv')
        context, role = _build(instruction, data, max_tasks, project_name, investment, tools, hosts)
        message = await role.run(instruction)
        outcome = role.outcome
        echo(message.content if message else "")
        _echo(f"Project: {context.project.path} (notebook.ipynb, plan.json, index.html)")
        _echo(context.cost_manager.summary())
        if outcome is not None and not outcome.ok:
            _echo(f"Stopped: {outcome.stop_reason.value}.")
            return STOPPED_EXIT if outcome.stop_reason.name == "TASK_FAILED" else 5
        return 0
    except asyncio.CancelledError:
        if not caught:
            raise
        _echo(f"Interrupted by {caught[0].name}; the kernel was shut down.")
        return 128 + int(caught[0])
    except MetaGPTError as exc:
        if verbose:
            import traceback

            _echo(traceback.format_exc().rstrip())
        _echo(f"Error: {exc}")
        return exc.exit_code
    finally:
        if context is not None:
            await context.aclose()


def _build(instruction, data, max_tasks, project_name, investment, tools, hosts):
    from metagpt.configs.settings import Config
    from metagpt.context import Context
    from metagpt.exceptions import UserError
    from metagpt.logs import register_secret
    from metagpt.roles import DataInterpreter

    for path in data:
        if not path.is_file():
            raise UserError(f"--data {path}: no such file; give the path of an existing file.")
    config = Config.load()
    if hosts:
        config = config.model_copy(update={"http_allowed_hosts": [*config.http_allowed_hosts, *hosts]})
    register_secret(config.openai_api_key)
    context = Context(config)
    if investment is not None:
        context.cost_manager.max_budget = investment
    from metagpt.roles.di.project import open_project

    store = open_project(context, project_name, instruction, data)
    role = DataInterpreter(context=context, tools=tools or ["<all>"], store=store, max_tasks=max_tasks)
    return context, role
