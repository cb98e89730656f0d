"""The bench suite: runs every measure, prints one markdown table, writes bench/RESULTS.md.

Figures (each with its target where the project set one, and the 1-minute load average when it
was measured, since the machine may be shared):

1. a whole company run (`--code-review --run-tests`) against a loopback model answering after
   a fixed latency: LLM calls, wall time, critical path (see bench/company_run.py), their ratio,
   tokens per role; target wall time within 10% of the critical path;
2. the same run with ENGINEER_CONCURRENCY 1 and the default, and bench/engineer.py's 8-file task;
3. cold start (bench/startup_time.py): medians of fresh runs, heavy libraries imported;
4. routing through `Environment` (bench/routing.py): 100 roles and 100,000 messages, 1,000 roles;
5. prompt tokens per stage, and any context repeated inside one prompt;
6. peak RSS of the whole run on the loopback model (target 150 MB) and on the embedded model.

A missed target gets, under the table, the profile that explains it.

    python bench/run.py [--latency 0.3] [--skip-local] [--messages 100000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import company_run  # noqa: E402
import engineer  # noqa: E402
import routing  # noqa: E402
import startup_time  # noqa: E402
from benchlib import Row, busy_seconds, idle_gaps, load_now, render_table, this_machine  # noqa: E402

WALL_RATIO_TARGET = 1.10
PEAK_MB_TARGET = 150
COLD_TARGETS = {"python startup.py --help": 0.5, "import metagpt": 0.3}
GROWTH_LIMIT = 1.5
"""Time per delivery at 1,000 roles over 100 roles above this would mean worse than linear growth."""


def whole_run(latency: float) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    run = company_run.run_company(latency)
    load = load_now()
    if run.exit_code:
        raise RuntimeError(f"the company run failed (exit {run.exit_code}):\n{run.output[-3000:]}")
    rows.append(Row("whole run: LLM calls", "", f"{len(run.calls)} at {latency * 1000:.0f} ms each", None, load))
    rows.append(
        Row(
            "whole run: wall time / critical path",
            f"<= {WALL_RATIO_TARGET:.2f}",
            f"{run.reported_seconds:.2f} s / {run.critical_seconds:.2f} s = {run.ratio:.2f} "
            f"(CPU {run.cpu_seconds:.2f} s, {len(run.chain)} calls on the critical path)",
            run.ratio <= WALL_RATIO_TARGET,
            load,
        )
    )
    for role, (prompt, completion, calls) in sorted(run.roles.items()):
        rows.append(Row(f"tokens: {role}", "", f"{prompt} prompt + {completion} completion, {calls} calls", None, load))
    repeated = []
    for stage, calls, total, largest, chars, example in company_run.stage_table(run.calls):
        rows.append(Row(f"prompt tokens: {stage}", "", f"{total} in {calls} calls (largest {largest})", None, load))
        if chars:
            repeated.append(f"{stage}: {chars} chars repeated, e.g. `{example}`")
    rows.append(
        Row("prompts: context repeated within one call", "none", "; ".join(repeated) or "none", not repeated, load)
    )
    rows.append(
        Row(
            "peak RSS, whole run on the loopback model",
            f"< {PEAK_MB_TARGET} MB",
            f"{run.peak_rss_mb:.0f} MB (with the diagram browser's processes: {run.tree_rss_mb:.0f} MB)",
            run.peak_rss_mb < PEAK_MB_TARGET,
            load,
        )
    )
    if run.ratio > WALL_RATIO_TARGET:
        notes += wall_time_profile(latency, run)
    if run.peak_rss_mb >= PEAK_MB_TARGET:
        notes += memory_profile()
    serial = company_run.run_company(latency, concurrency=1)
    rows.append(
        Row(
            "whole run: wall time, ENGINEER_CONCURRENCY 1 / default",
            "",
            f"{serial.reported_seconds:.2f} s / {run.reported_seconds:.2f} s",
            None,
            load_now(),
        )
    )
    return rows, notes


def wall_time_profile(latency: float, run: company_run.CompanyRun) -> list[str]:
    """Where the wall time beyond the critical path went: idle gaps, the chain, a cProfile rerun."""
    busy = busy_seconds(run.calls)
    gaps = sorted(idle_gaps(run.calls, run.ended - run.reported_seconds, run.ended), key=lambda g: -g[1])
    profiled = company_run.run_company(latency, profile=True)
    lines = [
        "### Why the whole run exceeds its critical path",
        "",
        f"Of {run.reported_seconds:.2f} s, a model call was in flight for {busy:.2f} s; "
        f"no call was in flight for {run.reported_seconds - busy:.2f} s. The largest such gaps:",
        "",
        *[f"- {seconds:.2f} s: {what}" for _, seconds, what in gaps[:5]],
        "",
        "Critical chain: " + " -> ".join(f"{c.stage} {c.file}".strip() for c in run.chain) + ".",
        "",
        f"cProfile of the same run ({profiled.reported_seconds:.2f} s under the profiler, "
        f"CPU {profiled.cpu_seconds:.2f} s):",
        "",
        "```",
        *profiled.profile,
        "```",
        "",
    ]
    return lines


def memory_profile() -> list[str]:
    """Peak RSS of fresh processes that import the run's pieces one after another."""
    steps = {
        "python": "pass",
        "+ the company": "from metagpt.software_company import SoftwareCompany; from metagpt.roles import QaEngineer",
        "+ openai": "from metagpt.software_company import SoftwareCompany; import openai",
        "+ token counting (o200k_base)": "import openai; from metagpt.software_company import SoftwareCompany; "
        "from metagpt.utils.token_counter import count_text_tokens; count_text_tokens('x', 'gpt-4o-mini')",
    }
    lines = ["### Where the run's memory goes (peak RSS of fresh processes)", ""]
    for name, code in steps.items():
        child = subprocess.Popen([sys.executable, "-c", code], cwd=BENCH.parent)
        _, _, usage = os.wait4(child.pid, 0)
        lines.append(f"- {name}: {usage.ru_maxrss / 1024:.0f} MB")
    return [*lines, ""]


def engineer_rows(latency: float) -> list[Row]:
    depth, critical, results = engineer.measure(latency)
    load = load_now()
    (_, calls_1, wall_1), (default, _, wall_n) = results
    return [
        Row(
            f"Engineer alone, 8 files (chain of {depth}): concurrency 1 / {default}",
            "",
            f"{wall_1:.2f} s / {wall_n:.2f} s (x{wall_1 / wall_n:.1f}; {calls_1} calls, "
            f"critical path {critical:.2f} s, ratio {wall_n / critical:.2f})",
            None,
            load,
        )
    ]


def cold_start_rows() -> list[Row]:
    rows = []
    for name, target in COLD_TARGETS.items():
        walls, cpus = startup_time.measure(startup_time.CASES[name], runs=9)
        median = statistics.median(walls)
        rows.append(
            Row(
                f"cold start: `{name}`",
                f"< {target} s",
                f"{median:.3f} s median of 9 (CPU {statistics.median(cpus):.3f} s)",
                median < target,
                load_now(),
            )
        )
    heavy = {name: startup_time.heavy_modules_loaded(startup_time.CASES[name]) for name in COLD_TARGETS}
    found = "; ".join(f"{name}: {', '.join(libs)}" for name, libs in heavy.items() if libs)
    rows.append(
        Row(
            "cold start: heavy libraries imported",
            "none",
            found or "none of " + ", ".join(startup_time.HEAVY),
            not found,
            load_now(),
        )
    )
    return rows


def routing_rows(messages: int) -> list[Row]:
    small = routing.measure(100, messages)
    load = load_now()
    large = routing.measure(1000, messages // 10)
    growth = large.microseconds_per_delivery / small.microseconds_per_delivery
    return [
        Row(
            f"routing: 100 roles, {small.messages:,} broadcast messages",
            "",
            f"{small.messages_per_second:,.0f} messages/s ({small.microseconds_per_delivery:.2f} us per delivery; "
            f"publish CPU {small.publish_cpu:.2f} s)",
            None,
            load,
        ),
        Row("routing: memory per message (100 roles)", "", f"{small.bytes_per_message:,.0f} bytes", None, load),
        Row(
            "routing: time per delivery, 1,000 / 100 roles",
            f"< {GROWTH_LIMIT} (linear)",
            f"{large.microseconds_per_delivery:.2f} / {small.microseconds_per_delivery:.2f} us = {growth:.2f}",
            growth < GROWTH_LIMIT,
            load_now(),
        ),
    ]


def local_model_rows() -> list[Row]:
    """bench/local_model.py --company in a fresh process: its company-run line and peak RSS."""
    started = time.monotonic()
    command = [sys.executable, str(BENCH / "local_model.py"), "--company"]
    child = subprocess.Popen(command, cwd=BENCH.parent, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status):
        return [Row("peak RSS, embedded model", "", "the local model bench failed", None, load_now())]
    line = re.search(r"^company run: (.+?);", output, re.MULTILINE)
    return [
        Row(
            "peak RSS, whole run on the embedded model",
            "",
            f"{usage.ru_maxrss / 1024:.0f} MB (company run {line.group(1) if line else '?'}; bench {elapsed:.0f} s)",
            None,
            load_now(),
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.3, help="seconds the loopback model takes per call")
    parser.add_argument("--messages", type=int, default=100_000, help="messages of the routing bench")
    parser.add_argument("--skip-local", action="store_true", help="skip the embedded model (minutes of CPU)")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    machine = this_machine()
    rows, notes = whole_run(args.latency)
    rows += engineer_rows(args.latency)
    rows += cold_start_rows()
    rows += routing_rows(args.messages)
    if not args.skip_local:
        rows += local_model_rows()
    text = "\n".join(
        [
            "# Bench results",
            "",
            f"Machine: {machine.describe()}.",
            f"Command: `python bench/run.py --latency {args.latency} --messages {args.messages}"
            f"{' --skip-local' if args.skip_local else ''}`.",
            "",
            render_table(rows),
            "",
            *notes,
        ]
    )
    print(text)
    args.output.write_text(text.rstrip() + "\n", encoding="utf-8")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
