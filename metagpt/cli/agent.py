"""`metagpt agent "GOAL"`: the autonomous agent (`RoleZero`) on one goal, in workspace/<name>/.

    metagpt agent "Write fizzbuzz.py and a test for it" [--max-steps 30] [--check "python -m pytest -q"]
        [--project-name NAME] [--investment X] [--data FILE ...] [--tool NAME ...]

The last line printed is `Stopped: <reason> (steps N, calls N, $X)`; the exit code names the
reason (`EXIT_CODES` in `metagpt/roles/di/role_zero.py`, the table in the README). `ask_human`
reads the answer from standard input: a terminal, or piped lines.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer


def _echo(text: str) -> None:
    from metagpt.logs import scrub

    typer.echo(scrub(text), err=True)


def agent(
    goal: Annotated[str, typer.Argument(help="What to achieve, e.g. 'write fizzbuzz.py with a passing test'.")],
    max_steps: Annotated[int, typer.Option(help="Most steps (model calls).", min=1, max=1000)] = 30,
    check: Annotated[
        str | None,
        typer.Option(help="Must pass for the run to be finished: a command, or 'file:PATH:TEXT'."),
    ] = None,
    project_name: Annotated[str | None, typer.Option(help="Folder name under the workspace.")] = None,
    investment: Annotated[float | None, typer.Option(help="Budget in dollars [default: 3.0].")] = None,
    data: Annotated[list[Path] | None, typer.Option("--data", help="Input files, copied into the project.")] = None,
    tool: Annotated[
        list[str] | None, typer.Option("--tool", help="Registered tools to offer [default: every usable one].")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs and tracebacks.")] = False,
) -> None:
    """Work towards GOAL with tools until it is done and checked, or a limit stops the run."""
    from metagpt.logs import setup_console

    setup_console(verbose)
    raise typer.Exit(asyncio.run(_main(goal, max_steps, check, project_name, investment, data or [], tool, verbose)))


async def _main(goal, max_steps, check, project_name, investment, data, tools, verbose) -> int:
    from metagpt.exceptions import MetaGPTError, UserError
    from metagpt.logs import echo
    from metagpt.roles.di.role_zero import EXIT_CODES, StopReason
    from metagpt.utils.stop_signals import cancel_on_stop_signals

    caught = cancel_on_stop_signals(asyncio.current_task())
    context = role = None
    try:
        if not goal.strip():
            raise UserError('Missing GOAL: metagpt agent "write hello.txt containing Hello World!"')
        context, role = _build(goal, max_steps, check, project_name, investment, data, tools)
        await role.run(goal)
        outcome = role.outcome
        _echo(f"Project: {context.project.path} (steps.jsonl, docs/agent.md, index.html)")
        _echo(context.cost_manager.summary())
        echo(outcome.line())
        return EXIT_CODES[outcome.stop_reason]
    except asyncio.CancelledError:
        if not caught:
            raise
        _final(role, f"interrupted by {caught[0].name}")
        return 128 + int(caught[0]) if caught[0] != signal.SIGINT else EXIT_CODES[StopReason.HUMAN_STOP]
    except MetaGPTError as exc:
        if verbose:
            import traceback

            _echo(traceback.format_exc().rstrip())
        _echo(f"Error: {exc}")
        _final(role, "")
        return exc.exit_code
    finally:
        if context is not None:
            await context.aclose()


def _final(role, detail: str) -> None:
    """The final line for a run that ended by an exception (the outcome holds what was counted)."""
    from metagpt.logs import echo

    outcome = getattr(role, "outcome", None)
    if outcome is not None:
        if detail:
            outcome.detail = detail
        echo(outcome.line())


def _build(goal, max_steps, check, project_name, investment, data, tools):
    from metagpt.configs.settings import Config
    from metagpt.context import Context
    from metagpt.exceptions import UserError
    from metagpt.logs import register_secret
    from metagpt.roles import RoleZero
    from metagpt.roles.di.agent.check import GoalCheck
    from metagpt.roles.di.project import open_project

    for path in data:
        if not path.is_file():
            raise UserError(f"--data {path}: no such file; give the path of an existing file.")
    if check is not None:
        GoalCheck.parse(check)  # a malformed check is refused before anything is created
    config = Config.load()
    register_secret(config.openai_api_key)
    context = Context(config)
    if investment is not None:
        context.cost_manager.max_budget = investment
    store = open_project(context, project_name, goal, data)
    human = StdinHuman() if StdinHuman.available() else None
    role = RoleZero(
        context=context, max_steps=max_steps, check=check, tools=tools, store=store,
        human=human, human_at_terminal=sys.stdin is not None and sys.stdin.isatty(),
    )  # fmt: skip
    return context, role


class StdinHuman:
    """`ask_human` at the terminal: the question on stderr, the answer one line of stdin (piped lines too)."""

    @staticmethod
    def available() -> bool:
        """A terminal, a pipe or a file on stdin (not /dev/null or a closed stream)."""
        if sys.stdin is None:
            return False
        try:
            mode = os.fstat(sys.stdin.fileno()).st_mode
            return sys.stdin.isatty() or stat.S_ISFIFO(mode) or stat.S_ISREG(mode)
        except (OSError, ValueError):
            return False

    async def __call__(self, question: str) -> str | None:
        from metagpt.logs import echo
        from metagpt.utils.paths import clean_text

        _echo(f"\nThe agent asks: {clean_text(question)}")
        echo("> ", err=True, nl=False)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()

        def read() -> None:  # a daemon thread: a pending read never holds up the exit
            try:
                line = sys.stdin.readline()
            except (OSError, ValueError):
                line = ""

            def give() -> None:
                if not answer.done():
                    answer.set_result(line)

            loop.call_soon_threadsafe(give)

        threading.Thread(target=read, daemon=True, name="ask-human").start()
        line = await answer
        return line.rstrip("\n") if line else None
