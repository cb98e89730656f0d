"""`metagpt resume DIR`: continue an interrupted run; calls the journal answered are not paid again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from metagpt.cli.run import Run, _echo


def resume(
    project: Annotated[Path, typer.Argument(help="The project folder, e.g. workspace/cli_snake_game.")],
    investment: Annotated[
        float | None, typer.Option(help="Budget for the whole run, spent before included [default: the run's].")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name (overrides OPENAI_API_MODEL).")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs and tracebacks.")] = False,
    roles: Annotated[
        list[str] | None,
        typer.Option(
            "--roles",
            help="module:Class of a role of your own the run hired (repeatable); journal names are never imported.",
        ),
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="A config2.yaml (llm:, roles:) over config/*.yaml.")
    ] = None,
) -> None:
    """Continue an interrupted run: calls the journal answered are not paid again."""
    from metagpt.exceptions import UserError
    from metagpt.logs import setup_console
    from metagpt.roles.registry import register_from_cli

    setup_console(verbose)
    try:
        for spec in roles or ():
            register_from_cli(spec)
    except UserError as exc:
        _echo(f"Error: {exc}")
        raise typer.Exit(2) from None
    run = Run("", investment, None, True, None, verbose, model=model, base_url=base_url, config_file=config_file)
    run.resume = project
    raise typer.Exit(asyncio.run(run.main()))
