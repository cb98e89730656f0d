"""The `metagpt` command: one Typer app whose default command runs a company on an idea.

    metagpt "a command-line snake game" [--investment 3.0] [--n-round 5] ...   (or `metagpt run IDEA`)
    metagpt resume DIR | logs [DIR] | batch IDEAS_FILE | interpret TASK | agent GOAL | experience ... | serve

A first argument that names no command is the idea; a command's name wins (`metagpt -- logs`
runs on the idea "logs"). Each command has its own `--help`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from metagpt.cli import agent, batch, interpret, resume, run, serve
from metagpt.cli.experience import experience_app
from metagpt.cli.groups import TYPER_SETTINGS, DefaultGroup, click_core
from metagpt.cli.logs import logs_app


class MainGroup(DefaultGroup):
    """`metagpt`: `run` for an idea; `--help` also lists the run's options."""

    default = "run"
    group_flags = ("--help", "-h", "--version")

    def format_options(self, ctx: click_core.Context, formatter: Any) -> None:
        super().format_options(ctx, formatter)
        command = self.commands[self.default]
        own = click_core.Context(command, info_name=self.default, parent=ctx)
        rows = [record for param in command.get_params(own) if (record := param.get_help_record(own))]
        with formatter.section(f"An idea's run ({ctx.command_path} IDEA [OPTIONS], or {self.default} IDEA)"):
            formatter.write_dl([row for row in rows if not row[0].startswith("--help")])


app = typer.Typer(cls=MainGroup, subcommand_metavar="IDEA | COMMAND [ARGS]...", **TYPER_SETTINGS)


def _version(value: bool) -> None:
    if value:
        from metagpt import __version__

        typer.echo(f"metagpt {__version__}")
        raise typer.Exit()


@app.callback()
def metagpt(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and stop.")
    ] = False,
) -> None:
    """A software company of LLM roles: PRD, design, tasks, code and tests for an idea, in workspace/."""


app.command("run")(run.startup)
app.command("resume")(resume.resume)
app.add_typer(logs_app, name="logs")
app.command("batch")(batch.batch)
app.command("interpret")(interpret.interpret)
app.command("agent")(agent.agent)
app.add_typer(experience_app, name="experience")
app.command("serve")(serve.serve)

SUBCOMMANDS = ("agent", "batch", "experience", "interpret", "logs", "resume", "serve")
"""The commands beside the default `run`; an idea that is one of these words needs `--` before it."""


def main() -> None:
    """Console-script entry point (`metagpt`, `python startup.py`)."""
    import sys

    app(prog_name=Path(sys.argv[0]).name)
