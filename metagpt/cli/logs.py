"""`metagpt logs`: the model calls a project's journal recorded.

    metagpt logs [PROJECT_DIR] [--role R] [--action A] [--model M] [--status S] [--since 2h] [-n 20] [--json]
    metagpt logs show ID [PROJECT_DIR] [--json]
    metagpt logs summary [PROJECT_DIR] [--json]

PROJECT_DIR defaults to the latest project in the workspace; it may also name a journal file
(the `STATE_DB` of standalone calls).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from metagpt.cli.groups import TYPER_SETTINGS, DefaultGroup
from metagpt.const import STATE_DB


class LogsGroup(DefaultGroup):
    default = "list"


logs_app = typer.Typer(cls=LogsGroup, **TYPER_SETTINGS)
"""`metagpt logs [DIR]` lists calls; `show` and `summary` are its other commands."""


@logs_app.callback()
def journal() -> None:
    """The model calls a project's journal recorded: each call, one whole, totals per role."""


ProjectArg = Annotated[
    Path | None,
    typer.Argument(help="Project folder or journal file [default: the latest project in the workspace]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON for scripts.")]


def _echo(text: str) -> None:
    from metagpt.logs import echo

    echo(text)


def _json(value: Any) -> None:
    from metagpt.logs import echo_json

    echo_json(value)


def _fail(message: str, code: int = 2) -> typer.Exit:
    from metagpt.logs import echo

    echo(f"Error: {message}", err=True)
    return typer.Exit(code)


def journal_path(project: Path | None) -> Path:
    """The journal file of `project` (a folder or the file itself), or of the newest project."""
    from metagpt.configs.settings import Config
    from metagpt.exceptions import UserError

    if project is not None:
        return project if project.is_file() else project / STATE_DB
    workspace = Config.default().resolve_workspace()
    found = workspace.glob(f"*/{STATE_DB}") if workspace.is_dir() else []
    journals = [p for p in found if p.is_file() and not p.parents[1].name.startswith(".")]  # not a staged folder
    if not journals:
        raise UserError(f'No project with a journal in {workspace}; run one first: metagpt "a snake game"')
    return max(journals, key=lambda p: p.stat().st_mtime)


def _open(project: Path | None):
    from metagpt.exceptions import UserError
    from metagpt.journal.queries import open_readonly

    try:
        return open_readonly(journal_path(project))
    except UserError as exc:
        raise _fail(str(exc)) from None


@logs_app.command("list")
def logs(
    project: ProjectArg = None,
    role: Annotated[str, typer.Option(help="Only this role (its profile, e.g. Engineer).")] = "",
    action: Annotated[str, typer.Option(help="Only this action, e.g. WriteCode.")] = "",
    model: Annotated[str, typer.Option(help="Only this model.")] = "",
    status: Annotated[str, typer.Option(help="ok, error, cancelled, interrupted, replayed or started.")] = "",
    since: Annotated[str, typer.Option(help="Only calls since a duration ago (30m, 2h, 3d) or a date.")] = "",
    n: Annotated[int, typer.Option("-n", help="The newest N calls; 0 for all.", min=0)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """One line per model call, newest last: time, role, action, model, tokens, dollars, ms, status."""
    from metagpt.exceptions import UserError
    from metagpt.journal.queries import Filters, list_calls, parse_since

    try:
        when = parse_since(since) if since else None
    except UserError as exc:
        raise _fail(str(exc)) from None
    db = _open(project)
    rows = list_calls(db, Filters(role=role, action=action, model=model, status=status, since=when, limit=n))
    if as_json:
        _json(rows)
        return
    for row in rows:
        _echo(format_row(row))


def _local_time(epoch: float) -> str:
    """`2026-12-07 13:02:05` in local time (the journal keeps epoch seconds; `--json` prints them)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def format_row(row: dict[str, Any]) -> str:
    """`#id time role action model in/out $cost ms status`, with the target file after the action."""
    stamp = _local_time(row["started_at"])
    action = row["action"] or "-"
    if row["target"]:
        action += f"[{row['target']}]"
    tokens = f"{row['prompt_tokens'] or 0}/{row['completion_tokens'] or 0}"
    ms = f"{row['latency_ms']:.0f}ms" if row["latency_ms"] is not None else "-"
    status = row["status"] + (f" (attempt {row['attempt']})" if row["attempt"] and row["attempt"] > 1 else "")
    return (
        f"#{row['id']} {stamp} {row['role'] or '-'} {action} {row['model'] or '-'} {tokens} "
        f"${row['cost'] or 0:.4f} {ms} {status}"
    )


@logs_app.command()
def show(
    call_id: Annotated[int, typer.Argument(help="The call's id (the #N of `metagpt logs`).", metavar="ID")],
    project: ProjectArg = None,
    as_json: JsonOpt = False,
    full: Annotated[
        bool, typer.Option("--full", help="Every text whole (long ones are cut to head and tail).")
    ] = False,
) -> None:
    """One call: its request (messages), response, tokens, cost and how it ended."""
    from metagpt.journal.queries import SHOW_CHARS, get_call

    call = get_call(_open(project), call_id, None if full else SHOW_CHARS)
    if call is None:
        raise _fail(f"No call #{call_id} in this journal; `metagpt logs -n 0` lists them.", 1)
    if as_json:
        _json(call)
        return
    request, response = call.pop("request") or {}, call.pop("response") or {}
    for key, value in call.items():
        if value is not None:
            _echo(f"{key}: {_local_time(value) if key.endswith('_at') else value}")
    for message in request.get("messages", []):
        _echo(f"\n--- {message.get('role', '?')} ---\n{message.get('content', '')}")
    if response:
        _echo(f"\n--- response ---\n{response.get('text', '')}")


@logs_app.command()
def summary(project: ProjectArg = None, as_json: JsonOpt = False) -> None:
    """Per role, action and model: calls, tokens, dollars, p50/p95 latency, errors, retries; totals;
    then dollars per provider and model."""
    from metagpt.journal.queries import summary as summarise

    report = summarise(_open(project))
    if as_json:
        _json(report)
        return
    header = f"{'role':<18} {'action':<18} {'model':<20} {'calls':>5} {'tokens in/out':>15} {'dollars':>9}"
    _echo(header + f" {'p50 ms':>8} {'p95 ms':>8} {'errors':>6} {'retries':>7}")
    for group in [*report["groups"], {"role": "total", "action": "", "model": "", **report["total"]}]:
        tokens = f"{group['prompt_tokens']}/{group['completion_tokens']}"
        p50 = "-" if group["p50_ms"] is None else f"{group['p50_ms']:.0f}"
        p95 = "-" if group["p95_ms"] is None else f"{group['p95_ms']:.0f}"
        _echo(
            f"{group['role'] or '-':<18.18} {group['action'] or '-':<18.18} {group['model'] or '-':<20.20} "
            f"{group['calls']:>5} {tokens:>15} {group['cost']:>9.4f} {p50:>8} {p95:>8} {group['errors']:>6} "
            f"{group['retries']:>7}"
        )
    if report["providers"]:
        _echo(f"\n{'provider':<18} {'model':<39} {'calls':>5} {'tokens in/out':>15} {'dollars':>9}")
    for row in report["providers"]:
        tokens = f"{row['prompt_tokens']}/{row['completion_tokens']}"
        where = f"{row['api_type'] or '-':<18.18} {row['model'] or '-':<39.39}"
        _echo(f"{where} {row['calls']:>5} {tokens:>15} {row['cost']:>9.4f}")
