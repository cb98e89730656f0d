"""Command groups with a default command, and errors in one line.

`metagpt "an idea"` sits beside `metagpt logs`, the way `llm "prompt"` sits beside `llm logs`:
a first argument that names no command goes to the group's default command. A subcommand's
name wins (`metagpt -- logs` is the idea "logs"). Every error a user can cause, a bad option
value as much as a bad setting, is one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

try:  # typer 0.22 and later run on their own copy of click
    from typer._click import core as click_core
    from typer._click import exceptions as click_errors
except ImportError:  # earlier ones on click itself
    from click import core as click_core  # type: ignore[no-redef]  # the same API
    from click import exceptions as click_errors  # type: ignore[no-redef]

USAGE_EXIT = 2
TYPER_SETTINGS: dict[str, Any] = {"add_completion": False, "pretty_exceptions_enable": False, "rich_markup_mode": None}


class DefaultGroup(TyperGroup):
    """A group that hands arguments naming none of its commands to `default`."""

    default: str = ""
    """The command run when the first argument names no command."""
    default_takes_arguments = True
    """False: only options (or nothing) go to `default`; an unknown word is an unknown command."""
    group_flags: tuple[str, ...] = ("--help", "-h")

    def parse_args(self, ctx: click_core.Context, args: list[str]) -> list[str]:
        if self.default and self._for_default(args):
            args = [self.default, *args]
        return super().parse_args(ctx, args)

    def _for_default(self, args: list[str]) -> bool:
        if not args:
            return True
        first = args[0]
        if first in self.commands or first in self.group_flags:
            return False
        return self.default_takes_arguments or first.startswith("-")

    def list_commands(self, ctx: click_core.Context) -> list[str]:
        """The default command first, then the others in the order they were added."""
        names = list(self.commands)
        return sorted(names, key=lambda name: name != self.default)

    def format_commands(self, ctx: click_core.Context, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands[name]
            if command.hidden:
                continue
            text = command.get_short_help_str(limit=formatter.width - 24)
            rows.append((name, f"{text} [default]" if name == self.default else text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click_core.Context) -> Any:
        """A `UserError` any command lets through (a bad setting, a bad file) ends in one line."""
        from metagpt.exceptions import UserError

        try:
            return super().invoke(ctx)
        except UserError as error:
            typer.echo(f"Error: {error}", err=True)
            ctx.exit(error.exit_code)

    def main(self, args: list[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:  # type: ignore[override]  # click's other parameters by keyword; standalone_mode is always False here
        """Click's `main`, with its usage errors (`--investment abc`) as one line, not a usage block."""
        extra["standalone_mode"] = False
        try:
            result = super().main(args, prog_name, **extra)
        except click_errors.UsageError as error:
            typer.echo(f"Error: {one_line(error)}", err=True)
            sys.exit(USAGE_EXIT)
        except typer.Exit as done:  # click's Exit, or typer's own from 0.22 (not in its click copy)
            sys.exit(done.exit_code)
        except typer.Abort:
            typer.echo("Aborted.", err=True)
            sys.exit(130)
        except click_errors.ClickException as error:
            typer.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        sys.exit(result if isinstance(result, int) else 0)


def one_line(error: Any) -> str:
    """`Invalid value for '--investment': 'abc' is not a valid float (see `metagpt --help`).`"""
    message = " ".join(error.format_message().split())
    command = error.ctx.command_path if error.ctx is not None else "metagpt"
    return f"{message.rstrip('.')} (see `{command} --help`)."
