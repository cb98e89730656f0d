"""`metagpt experience`: the workspace's experience pool (`workspace/.experience/`).

    metagpt experience list [--kind step|lesson] [-n 20] [--json]
    metagpt experience show KEY [--json]          (a unique prefix of the key is enough)
    metagpt experience clear [--yes]
    metagpt experience rebuild                    (from the projects' signed evidence)

The pool is the `WORKSPACE_PATH` folder's (`./workspace` by default). Only records signed under
this user's key are shown or used; each command says in one line how many it skipped.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from metagpt.cli.groups import TYPER_SETTINGS, DefaultGroup


class ExperienceGroup(DefaultGroup):
    default = "list"
    default_takes_arguments = False


experience_app = typer.Typer(cls=ExperienceGroup, **TYPER_SETTINGS)
"""`metagpt experience list|show|clear|rebuild`; `list` when no command is given."""


@experience_app.callback()
def experience() -> None:
    """The workspace's experience pool: its records, one whole record, clearing and rebuilding it."""
    from metagpt.logs import setup_console

    setup_console(False)


JsonOpt = Annotated[bool, typer.Option("--json", help="JSON for scripts.")]


def _echo(text: str) -> None:
    from metagpt.logs import scrub

    typer.echo(scrub(text))


def _pool():
    from metagpt.configs.settings import Config
    from metagpt.experience import ExperiencePool

    config = Config.default()
    return ExperiencePool.of_workspace(config.resolve_workspace(), config.exp_pool_max_entries)


@experience_app.command("list")
def list_records(
    kind: Annotated[str, typer.Option(help="Only `step` or `lesson` records.")] = "",
    n: Annotated[int, typer.Option("-n", help="The newest N records; 0 for all.", min=0)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """One line per record, newest last: key, kind, step, model family, uses, what it cost, its task."""
    from metagpt.logs import echo_json

    pool = _pool()
    records = [r for r in pool.records() if not kind or r.kind == kind]
    _say_skipped(pool)
    records = sorted(records, key=lambda r: r.created)[-n if n else None :]
    if as_json:
        echo_json([r.model_dump(mode="json") for r in records])
        return
    if not records:
        _echo(f"The experience pool {pool.path} is empty; run with --experience (and --run-tests) to fill it.")
        return
    for r in records:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
        task = r.task.splitlines()[0][:60] if r.task else "-"
        _echo(
            f"{r.key[:12]} {stamp} {r.kind:<6} {r.step:<10} {r.family or '-':<14} uses {r.uses:<3} "
            f"calls {r.cost.calls} ${r.cost.dollars:.4f}  {task}"
        )


@experience_app.command()
def show(
    key: Annotated[str, typer.Argument(help="The record's key, or a unique prefix (from `list`).", metavar="KEY")],
    as_json: JsonOpt = False,
) -> None:
    """One record whole."""
    from metagpt.logs import echo

    pool = _pool()
    matches = [r for r in pool.records() if r.key.startswith(key)]
    _say_skipped(pool)
    if len(matches) != 1:
        what = "No record has" if not matches else f"{len(matches)} records have"
        echo(f"Error: {what} a key starting with {key!r}; `metagpt experience list` shows them.", err=True)
        raise typer.Exit(1)
    record = matches[0]
    if as_json:
        _echo(record.model_dump_json(indent=2))
        return
    for field in ("key", "kind", "step", "family", "outcome", "source", "uses", "confirmations"):
        _echo(f"{field}: {getattr(record, field)}")
    c = record.cost
    _echo(f"cost: {c.calls} calls, {c.prompt_tokens}+{c.completion_tokens} tokens, ${c.dollars:.4f}, {c.seconds:.1f}s")
    for field in ("task", "result", "error", "fix"):
        if getattr(record, field):
            _echo(f"\n--- {field} ---\n{getattr(record, field)}")


@experience_app.command()
def clear(yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Remove every record (the projects and their journals stay; `rebuild` brings the company's back)."""
    pool = _pool()
    if not yes and not typer.confirm(f"Remove every record of {pool.path}?"):
        raise typer.Exit(1)
    _echo(f"Removed {pool.remove()} record(s) from {pool.path}.")


@experience_app.command()
def rebuild() -> None:
    """Rebuild the company's records from the workspace's projects: the records their passing runs signed."""
    from metagpt.configs.settings import Config
    from metagpt.experience.rebuild import rebuild as rebuild_pool

    pool = _pool()
    done = rebuild_pool(pool, Config.default().resolve_workspace())
    _echo(f"Rebuilt {pool.path}: {done.records} record(s), from {done.projects} project(s) whose tests passed.")
    if done.skipped_records or done.skipped_projects:
        unsigned = f", {done.unsigned} unsigned (from before records were signed)" if done.unsigned else ""
        _echo(
            f"Skipped {done.skipped_projects} project(s) and {done.skipped_records} record(s){unsigned}: not confirmed "
            "by a check this user's MetaGPT ran (copied in, changed, forged, or run without the pool); "
            "run them again with --run-tests --experience."
        )


def _say_skipped(pool) -> None:
    """One line on stderr when records were left out: their MAC does not hold."""
    from metagpt.experience.trust import skipped_line
    from metagpt.logs import echo

    if pool.skipped:
        echo(skipped_line(pool.skipped, pool.unsigned, str(pool.path)), err=True)
