"""`metagpt batch IDEAS_FILE`: one company per idea, several at once, under one total budget.

Prints a line per company as it ends (with the dollars spent against the total) and, on a
terminal, a live line below them (done / running / failed, dollars spent against the total;
elsewhere a plain status line every `--progress-every` seconds), then a summary table, or
the results as JSON with `--json` (then only the per-company lines, on stderr). Console logs
are warnings only, unless `--verbose`. The exit code is 0 when every company
finished (or was finished before), else the first failed company's code (3 for a budget stop),
130 on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def _echo(text: str) -> None:
    from metagpt.logs import scrub

    typer.echo(scrub(text), err=True)


def batch(
    ideas_file: Annotated[
        Path, typer.Argument(help="One idea per line, or JSON lines with idea, project_name, investment.")
    ],
    workers: Annotated[int, typer.Option(help="Companies running at once.", min=1)] = 2,
    backend: Annotated[str, typer.Option(help="asyncio (this process) or ray (pip install -e '.[ray]').")] = "asyncio",
    address: Annotated[str | None, typer.Option(help="Ray cluster to join: auto or ray://host:10001.")] = None,
    investment: Annotated[float, typer.Option(help="Budget per company in dollars.")] = 3.0,
    investment_total: Annotated[
        float | None, typer.Option(help="Budget of all companies together, never exceeded [default: none].")
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option(help="Where the projects go; with --backend ray, a path every node shares.")
    ] = None,
    code_review: Annotated[bool, typer.Option(help="The Engineer reviews (and fixes) each file it wrote.")] = True,
    run_tests: Annotated[bool, typer.Option(help="Hire a QA engineer in every company.")] = False,
    n_round: Annotated[int | None, typer.Option(help="Maximum rounds per company.", min=1)] = None,
    resume: Annotated[bool, typer.Option(help="Skip finished projects of this batch, resume unfinished ones.")] = False,
    max_restarts: Annotated[int, typer.Option(help="Ray: restarts of a company whose worker died.", min=0)] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
    progress_every: Annotated[
        float, typer.Option(help="Seconds between status lines when stderr is not a terminal (0: none).", min=0)
    ] = 10.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs and tracebacks.")] = False,
) -> None:
    """Run a software company for every idea of IDEAS_FILE, each in its own project folder."""
    from metagpt.logs import setup_console

    setup_console(verbose, quiet=not verbose)
    raise typer.Exit(
        asyncio.run(
            _main(
                ideas_file, workers, backend, address, investment, investment_total, workspace,
                code_review, run_tests, n_round, resume, max_restarts, as_json, progress_every,
            )
        )
    )  # fmt: skip


async def _main(
    ideas_file: Path,
    workers: int,
    backend: str,
    address: str | None,
    investment: float,
    investment_total: float | None,
    workspace: Path | None,
    code_review: bool,
    run_tests: bool,
    n_round: int | None,
    resume: bool,
    max_restarts: int,
    as_json: bool,
    progress_every: float,
) -> int:
    from metagpt.batch import BatchOptions, read_ideas, run_batch
    from metagpt.batch.progress import ProgressLine, Tracker
    from metagpt.configs.settings import Config
    from metagpt.exceptions import MetaGPTError, UserError
    from metagpt.logs import register_secret
    from metagpt.utils.stop_signals import cancel_on_stop_signals

    stopped = cancel_on_stop_signals(asyncio.current_task())
    from metagpt.logs import scrub

    done = [0]
    spent = [0.0]
    tracker = Tracker()
    terminal = sys.stderr.isatty() and not as_json
    progress = ProgressLine(sys.stderr, tracker, live=terminal, every=0 if as_json else progress_every)

    def on_result(result) -> None:
        done[0] += 1
        spent[0] += result.cost
        total = f" of ${investment_total:.4f}" if investment_total is not None else ""
        progress.print(
            scrub(
                f"[{done[0]}/{len(ideas)}] {result.status:<11} {Path(result.project).name}  ${result.cost:.4f}"
                f"  (batch ${spent[0]:.4f}{total}){'  ' + result.error if result.error else ''}"
            )
        )

    tracker.on_result = on_result

    async def show() -> None:
        while True:  # until cancelled when the batch ends
            await asyncio.sleep(0.5 if terminal else 1.0)
            progress.tick()

    shown = None
    try:
        if backend not in ("asyncio", "ray"):
            raise UserError(f"Unknown backend {backend!r}; use --backend asyncio or --backend ray.")
        if address and backend != "ray":
            raise UserError("--address joins a Ray cluster: add --backend ray.")
        if backend == "ray":
            _check_ray()
        ideas = read_ideas(ideas_file)
        config = Config.load()
        register_secret(config.openai_api_key)
        tracker.on_begin = lambda: _echo(f"Running {len(ideas)} companies, {workers} at a time, on {backend}.")
        options = BatchOptions(address=address, shared_workspace=workspace is not None, max_restarts=max_restarts)
        if terminal or (progress_every > 0 and not as_json):
            shown = asyncio.ensure_future(show())
        try:
            results = await run_batch(
                ideas, workers=workers, backend=backend, investment=investment, investment_total=investment_total,
                config=config, workspace=workspace, code_review=code_review, run_tests=run_tests, n_round=n_round,
                resume=resume, options=options, tracker=tracker,
            )  # fmt: skip
        finally:
            if shown is not None:
                shown.cancel()
            progress.close()
    except asyncio.CancelledError:
        if not stopped:
            raise
        _echo(f"Interrupted: every project keeps its files; continue with: metagpt batch {ideas_file} --resume")
        return 128 + stopped[0]
    except MetaGPTError as exc:
        _echo(f"Error: {exc}")
        return exc.exit_code
    if as_json:
        ledger = results.ledger
        payload = {
            "results": [result.as_dict() for result in results],
            "total": None if ledger is None else budget_figures(ledger),
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        _echo(table(results))
    failed = [result for result in results if result.status not in ("done", "skipped")]
    return (failed[0].exit_code or 1) if failed else 0


def _check_ray() -> None:
    from importlib.util import find_spec

    from metagpt.exceptions import UserError

    if find_spec("ray") is None:
        raise UserError('The ray backend needs Ray: pip install -e ".[ray]" (or use --backend asyncio).')


def table(results) -> str:
    """The summary: idea, project folder, status, calls, tokens, dollars, seconds."""
    header = ("idea", "project", "status", "calls", "tokens", "dollars", "seconds")
    rows = [
        (
            result.idea[:40],
            result.project,
            result.status,
            str(result.calls),
            str(result.prompt_tokens + result.completion_tokens),
            f"{result.cost:.4f}",
            f"{result.seconds:.1f}",
        )
        for result in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    total = sum(result.cost for result in results)
    lines.append(f"Total: ${total:.4f} over {len(results)} companies")
    if results.ledger is not None:
        lines.append(budget_line(results.ledger))
    return "\n".join(lines)


def budget_figures(ledger) -> dict[str, float | int]:
    """The shared budget's final figures in dollars: `spent` includes `before` (earlier runs of
    the batch's projects); `held_by_dead_workers` may have been billed and counts as used."""
    from metagpt.batch.ledger import to_dollars

    return {
        "budget": ledger.total_dollars,
        "spent": ledger.spent_dollars,
        "before": to_dollars(ledger.before),
        "held_by_dead_workers": to_dollars(ledger.lost),
        "dead_worker_holds": ledger.lost_holds,
        "used": to_dollars(ledger.used),
    }


def budget_line(ledger) -> str:
    """`Shared budget: $0.0512 used of $0.0800: $0.0496 spent (...), $0.0016 held by dead workers (...)`."""
    figures = budget_figures(ledger)
    before = f" (${figures['before']:.4f} of it before this run)" if ledger.before else ""
    used, budget, spent = figures["used"], figures["budget"], figures["spent"]
    line = f"Shared budget: ${used:.4f} used of ${budget:.4f}: ${spent:.4f} spent{before}"
    if ledger.lost_holds:
        line += (
            f", ${figures['held_by_dead_workers']:.4f} held by dead workers ({ledger.lost_holds} "
            f"{'call' if ledger.lost_holds == 1 else 'calls'} cut when their worker died; released from their holds "
            "but counted as spent, since the server may have billed them)"
        )
    if ledger.held:
        line += f", ${ledger.held / 1e6:.4f} still held"
    return line
