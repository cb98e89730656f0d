"""Pure helpers of the bench suite: call timelines, the critical path, prompt duplication, the table.

Nothing here runs a model or a process, so `tests/unit/test_bench_helpers.py` checks it fast.

The critical path of a run is computed from the recorded calls (server-side start and end of each
request) and a causal structure known from the SOP (`sop_dependencies`): a call can only start
once the calls whose output it reads have ended. Its length is the sum of the measured durations
along the longest chain of such dependent calls, i.e. the wall time a framework with no overhead
of its own and unlimited concurrency would need.
"""

from __future__ import annotations

import os
import platform
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PHASES = ("PRD", "design", "tasks", "write", "review", "rewrite", "fix_syntax", "test", "debug", "other")
"""Stages of a company run in the order the SOP runs them."""


@dataclass
class Call:
    """One model request as the loopback server saw it."""

    index: int
    stage: str
    """One of `PHASES`."""
    file: str = ""
    """The code or test file the request is about, when it is about one."""
    start: float = 0.0
    end: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Row:
    """One line of the results table."""

    figure: str
    target: str
    measured: str
    met: bool | None = None
    """None when the figure has no target."""
    load: str = ""
    """The 1-minute load average when the figure was measured."""


def longest_chain(calls: list[Call], depends: dict[int, list[int]]) -> tuple[float, list[Call]]:
    """The heaviest chain of dependent calls: its total duration and its calls in order.

    Args:
        calls: the calls, any order.
        depends: for each call index, the indexes of the calls it must wait for (a DAG).
    """
    by_index = {call.index: call for call in calls}
    best: dict[int, float] = {}
    previous: dict[int, int | None] = {}

    def visit(index: int) -> float:
        if index not in best:
            choices = [(visit(d), d) for d in depends.get(index, []) if d in by_index and d != index]
            weight, before = max(choices, default=(0.0, None))
            best[index] = weight + by_index[index].seconds
            previous[index] = before
        return best[index]

    if not calls:
        return 0.0, []
    last = max(by_index, key=visit)
    chain: list[Call] = []
    cursor: int | None = last
    while cursor is not None:
        chain.append(by_index[cursor])
        cursor = previous[cursor]
    return best[last], chain[::-1]


def sop_dependencies(calls: list[Call], file_depends: dict[str, list[str]]) -> dict[int, list[int]]:
    """Which calls each call waits for, from the SOP's structure.

    The documents form a chain (PRD, design, tasks). Writing a file needs the task list and the
    files it uses (`file_depends`, the Engineer's plan); reviewing it needs its own latest version
    and the reviewed files it uses; a rewrite or a syntax fix needs the call before it on that
    file. Every later stage (tests, debugging, anything else) needs all calls of earlier stages
    that ended before it started.
    """
    order = {stage: n for n, stage in enumerate(PHASES)}
    ordered = sorted(calls, key=lambda c: c.start)
    depends: dict[int, list[int]] = {}
    per_file: dict[str, list[Call]] = {}
    for call in ordered:
        deps: list[int] = []
        if call.stage in ("PRD", "design", "tasks"):
            deps = [c.index for c in ordered if order[c.stage] < order[call.stage] and c.end <= call.start]
        elif call.stage == "write":
            deps = [c.index for c in ordered if c.stage == "tasks" and c.end <= call.start]
            deps += [per_file[d][-1].index for d in file_depends.get(call.file, []) if per_file.get(d)]
        elif call.stage in ("review", "rewrite", "fix_syntax"):
            deps = [per_file[call.file][-1].index] if per_file.get(call.file) else []
            if call.stage == "review":
                deps += [per_file[d][-1].index for d in file_depends.get(call.file, []) if per_file.get(d)]
        else:
            deps = [c.index for c in ordered if order[c.stage] < order[call.stage] and c.end <= call.start]
            deps += [c.index for c in ordered if c.stage == call.stage and c.file == call.file and c.end <= call.start]
        depends[call.index] = sorted(set(deps))
        if call.file:
            per_file.setdefault(call.file, []).append(call)
    return depends


def busy_seconds(calls: Iterable[Call]) -> float:
    """Time during which at least one call was in flight (the union of the call intervals)."""
    total, reach = 0.0, float("-inf")
    for call in sorted(calls, key=lambda c: c.start):
        if call.end > reach:
            total += call.end - max(call.start, reach)
            reach = call.end
    return total


def idle_gaps(calls: list[Call], start: float, end: float) -> list[tuple[float, float, str]]:
    """Periods between `start` and `end` with no call in flight: (from, seconds, what came before)."""
    gaps: list[tuple[float, float, str]] = []
    reach, before = start, "start"
    for call in sorted(calls, key=lambda c: c.start):
        if call.start > reach:
            gaps.append((reach, call.start - reach, f"{before} -> {call.stage} {call.file}".strip()))
        if call.end > reach:
            reach, before = call.end, f"{call.stage} {call.file}".strip()
    if end > reach:
        gaps.append((reach, end - reach, f"{before} -> end"))
    return gaps


def repeated_text(prompt: str, min_chars: int = 40) -> tuple[int, str]:
    """Characters of `prompt` that repeat an earlier part of the same prompt, and an example.

    Lines of at least `min_chars` characters (stripped) that occur more than once count once per
    repetition: a document pasted twice shows up as all its long lines repeated.
    """
    lines = [line.strip() for line in prompt.splitlines()]
    counts = Counter(line for line in lines if len(line) >= min_chars)
    repeated = {line: n for line, n in counts.items() if n > 1}
    chars = sum(len(line) * (n - 1) for line, n in repeated.items())
    example = max(repeated, key=len) if repeated else ""
    return chars, example


def render_table(rows: list[Row]) -> str:
    """The results as one markdown table."""
    lines = ["| figure | target | measured | met? | load (1 min) |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        met = "-" if row.met is None else ("yes" if row.met else "**no**")
        cells = [row.figure, row.target or "-", row.measured, met, row.load or "-"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(lines)


def parse_role_usage(summary: str) -> dict[str, tuple[int, int, int]]:
    """Per-role `(prompt tokens, completion tokens, calls)` from the CLI's cost summary."""
    found: dict[str, tuple[int, int, int]] = {}
    for match in re.finditer(r"^\s+(.+?): \$[\d.]+, (\d+)\+(\d+) tokens, (\d+) calls$", summary, re.MULTILINE):
        found[match.group(1)] = (int(match.group(2)), int(match.group(3)), int(match.group(4)))
    return found


@dataclass
class Machine:
    """Where the figures were measured."""

    cores: int
    cpu: str
    load: tuple[float, float, float]
    python: str = field(default_factory=platform.python_version)

    def describe(self) -> str:
        load = ", ".join(f"{x:.2f}" for x in self.load)
        return f"{self.cores} cores, {self.cpu}; load average at start {load} (1, 5, 15 min); Python {self.python}"


def cpu_model(cpuinfo: str) -> str:
    """The `model name` of /proc/cpuinfo's text (the first CPU), or `unknown`."""
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def this_machine() -> Machine:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = cpu_model(handle.read())
    except OSError:
        cpu = platform.processor() or "unknown"
    return Machine(cores=os.cpu_count() or 1, cpu=cpu, load=os.getloadavg())


def status_mb(field: str, pid: int | str = "self") -> float:
    """A memory line of `/proc/PID/status` (`VmRSS`, `VmHWM`, ...) in MB; 0 when the line is absent.

    Raises:
        OSError: the process is gone.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load_now() -> str:
    return f"{os.getloadavg()[0]:.2f}"
