"""A whole company run against a loopback model with a fixed latency: overhead, tokens, memory.

`python startup.py IDEA --code-review --run-tests` runs in a fresh process (the user's path,
so its peak RSS and CPU time are its own, read with `os.wait4`) against a loopback
OpenAI-compatible server (tests/e2e/openai_server.py) that answers every call after `--latency`
seconds with valid scripted content. The server records when each call started and ended.

The critical path is computed from those recorded times and the SOP's causal structure
(`benchlib.sop_dependencies`: documents in a chain, each file after the files it uses, reviews
after what they review, tests after the code), not from the timeline alone: a framework that
serialised independent calls would otherwise look perfect. Its length is the sum of the
server-side durations along the longest chain of dependent calls.

    python bench/company_run.py [--latency 0.3] [--concurrency N] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import (  # noqa: E402
    Call,
    busy_seconds,
    idle_gaps,
    longest_chain,
    parse_role_usage,
    repeated_text,
    sop_dependencies,
    status_mb,
)

from tests.e2e.openai_server import (  # noqa: E402
    _CODE_FILE,
    _TEST_FILE,
    OpenAIServer,
    estimate_usage,
    prompt_text,
    realistic_reply,
    requested_document,
)

IDEA = "a command-line snake game"
STAGE_OF_DOCUMENT = {"PRD": "PRD", "SystemDesign": "design", "Tasks": "tasks"}
_REVIEWED = re.compile(r"# Code to review: `([^`]+)`")
_REWRITTEN = re.compile(r"Rewrite `([^`]+)` so that every finding")
_DEBUGGED = re.compile(r"and `([^`]+)` is the file to fix")
_UNPARSED = re.compile(r"corrected code of `([^`]+)`")


def classify(body: dict[str, Any]) -> tuple[str, str]:
    """The SOP stage of a request and the file it is about, read from its prompt."""
    document = requested_document(body)
    if document is not None:
        return STAGE_OF_DOCUMENT[document.__name__], ""
    text = prompt_text(body)
    for stage, pattern in (
        ("fix_syntax", _UNPARSED),
        ("debug", _DEBUGGED),
        ("rewrite", _REWRITTEN),
        ("review", _REVIEWED),
        ("write", _CODE_FILE),
    ):
        match = pattern.search(text)
        if match:
            return stage, match.group(1)
    match = _TEST_FILE.search(text)
    if match:
        return "test", f"tests/test_{match.group(1)}.py"
    return "other", ""


class Recorder:
    """A server handler that answers after a fixed latency and records each call's timeline."""

    def __init__(self, latency: float):
        self.latency = latency
        self.calls: list[Call] = []
        self.replies: dict[int, str] = {}
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]):
        start = time.monotonic()
        time.sleep(self.latency)
        reply = realistic_reply(body)
        stage, file = classify(body)
        usage = estimate_usage(body, reply.text or "")
        with self._lock:
            call = Call(
                index=len(self.calls),
                stage=stage,
                file=file,
                start=start,
                end=time.monotonic(),
                prompt_tokens=usage["prompt_tokens"],
                completion_tokens=usage["completion_tokens"],
                prompt=prompt_text(body),
            )
            self.calls.append(call)
            self.replies[call.index] = reply.text or ""
        return reply


class PeakSampler:
    """The peak resident set of one process alone (`VmHWM`), read every 20 ms while it lives.

    `os.wait4`'s figure is the largest of the process and every child it waited for, so a run's
    browser (Chromium, for the diagrams) would count as the run's own memory.
    """

    def __init__(self, pid: int):
        self.pid = pid
        self.mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            try:
                self.mb = max(self.mb, status_mb("VmHWM", self.pid))
            except OSError:  # gone: the last reading stands (a zombie has no memory lines: 0)
                continue

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


@dataclass
class CompanyRun:
    """What one whole run measured."""

    latency: float
    concurrency: int
    exit_code: int
    calls: list[Call]
    reported_seconds: float
    """The run's wall time as the CLI reports it (after start-up, until the summary)."""
    process_seconds: float
    cpu_seconds: float
    """User + system CPU time of the run's process and the processes it waited for (pytest)."""
    peak_rss_mb: float
    """The run's own process (its VmHWM, sampled while it runs)."""
    tree_rss_mb: float
    """The largest of the run's process and the processes it waited for (the diagram browser's)."""
    critical_seconds: float
    chain: list[Call]
    roles: dict[str, tuple[int, int, int]]
    started: float
    ended: float
    output: str
    profile: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.reported_seconds / self.critical_seconds if self.critical_seconds else float("inf")


def file_dependencies(calls: list[Call], replies: dict[int, str]) -> dict[str, list[str]]:
    """The Engineer's plan for the task list the server answered (same rule as the Engineer's)."""
    from metagpt.roles.engineer import code_path
    from metagpt.utils.code_plan import CodePlan

    design = next((json.loads(replies[c.index]) for c in calls if c.stage == "design"), None)
    tasks = next((json.loads(replies[c.index]) for c in calls if c.stage == "tasks"), None)
    if not design or not tasks:
        return {}
    package = design["python_package_name"]
    files = list(dict.fromkeys(code_path(n, package) for n in [*tasks["task_list"], *design["file_list"]]))
    notes = {code_path(item["file"], package): item["description"] for item in tasks["logic_analysis"]}
    return CodePlan.from_tasks(files, notes).depends_on


def run_company(latency: float, concurrency: int | None = None, profile: bool = False) -> CompanyRun:
    """One `startup.py --code-review --run-tests` run in a fresh process against the loopback model."""
    recorder = Recorder(latency)
    with OpenAIServer(recorder) as server, tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_API_MODEL": "gpt-4o-mini",
            "WORKSPACE_PATH": str(Path(scratch) / "workspace"),
        }
        if concurrency is not None:
            env["ENGINEER_CONCURRENCY"] = str(concurrency)
        stats = Path(scratch) / "run.prof"
        python = [sys.executable, *(["-m", "cProfile", "-o", str(stats)] if profile else [])]
        command = [*python, str(ROOT / "startup.py"), IDEA, "--code-review", "--run-tests"]
        command += ["--base-url", server.base_url, "--project-name", "bench"]
        started = time.monotonic()
        with tempfile.TemporaryFile() as out:  # cwd = scratch: no config/key.yaml of the checkout is read
            child = subprocess.Popen(command, cwd=scratch, env=env, stdout=out, stderr=subprocess.STDOUT)
            own_peak = PeakSampler(child.pid)
            _, status, usage = os.wait4(child.pid, 0)
            own_peak.stop()
            child.returncode = os.waitstatus_to_exitcode(status)
            ended = time.monotonic()
            out.seek(0)
            output = out.read().decode("utf-8", "replace")
        top = summarise_profile(stats) if profile else []
    calls = sorted(recorder.calls, key=lambda c: c.start)
    critical, chain = longest_chain(calls, sop_dependencies(calls, file_dependencies(calls, recorder.replies)))
    reported = re.search(r"^Time: ([\d.]+)s", output, re.MULTILINE)
    return CompanyRun(
        latency=latency,
        concurrency=concurrency or 0,
        exit_code=child.returncode,
        calls=calls,
        reported_seconds=float(reported.group(1)) if reported else ended - started,
        process_seconds=ended - started,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=own_peak.mb or usage.ru_maxrss / 1024,
        tree_rss_mb=usage.ru_maxrss / 1024,
        critical_seconds=critical,
        chain=chain,
        roles=parse_role_usage(output),
        started=started,
        ended=ended,
        output=output,
        profile=top,
    )


def summarise_profile(path: Path, limit: int = 10) -> list[str]:
    """Where the run's own CPU went: time spent importing, then the functions with most own time.

    The event loop's waiting (select/epoll) is left out: it is the model's latency, not ours.
    """
    if not path.exists():
        return ["(no profile written)"]
    stats = pstats.Stats(str(path))
    rows, imports = [], 0.0
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():
        if name == "_find_and_load":
            imports = cumtime
        if any(wait in name for wait in ("select", "poll", "acquire", "sleep")):
            continue
        rows.append((tottime, cumtime, calls, f"{Path(filename).name}:{line}({name})"))
    rows.sort(reverse=True)
    lines = [f"imports: {imports:.3f}s cumulative (start-up and modules imported on first use)"]
    lines += [f"{tot:7.3f}s own {cum:7.3f}s cum {n:7d} calls  {where}" for tot, cum, n, where in rows[:limit]]
    return lines


def stage_table(calls: list[Call]) -> list[tuple[str, int, int, int, int, str]]:
    """Per stage: calls, prompt tokens (total and largest), repeated characters, an example."""
    rows = []
    for stage in dict.fromkeys(c.stage for c in calls):
        mine = [c for c in calls if c.stage == stage]
        repeats = [repeated_text(c.prompt) for c in mine]
        worst = max(repeats, key=lambda r: r[0])
        rows.append(
            (
                stage,
                len(mine),
                sum(c.prompt_tokens for c in mine),
                max(c.prompt_tokens for c in mine),
                worst[0],
                worst[1][:80],
            )
        )
    return rows


def report(run: CompanyRun) -> str:
    lines = [
        f"company run: exit {run.exit_code}, {len(run.calls)} LLM calls at {run.latency * 1000:.0f} ms, "
        f"ENGINEER_CONCURRENCY {run.concurrency or 'default'}",
        f"wall time {run.reported_seconds:.2f} s (process {run.process_seconds:.2f} s, CPU {run.cpu_seconds:.2f} s); "
        f"critical path {run.critical_seconds:.2f} s over {len(run.chain)} calls; ratio {run.ratio:.2f}",
        f"peak RSS {run.peak_rss_mb:.0f} MB ({run.tree_rss_mb:.0f} MB with the browser)",
        "critical chain: " + " -> ".join(f"{c.stage} {c.file}".strip() for c in run.chain),
    ]
    gaps = sorted(idle_gaps(run.calls, run.ended - run.reported_seconds, run.ended), key=lambda g: -g[1])
    busy = busy_seconds(run.calls)
    lines.append(f"time with a call in flight {busy:.2f} s; with none {run.reported_seconds - busy:.2f} s, largest:")
    lines += [f"  {seconds:6.2f} s  {what}" for _, seconds, what in gaps[:5]]
    lines.append("tokens by role (prompt + completion, calls):")
    lines += [f"  {role}: {p} + {c}, {n}" for role, (p, c, n) in sorted(run.roles.items())]
    lines.append("prompt tokens by stage (calls, total, largest, repeated chars in one prompt):")
    for stage, n, total, largest, repeated, example in stage_table(run.calls):
        lines.append(f"  {stage:10} {n:3d} {total:7d} {largest:6d} {repeated:6d}  {example}")
    if run.profile:
        lines.append("profile (cProfile, top cumulative):")
        lines += [f"  {line}" for line in run.profile]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.3, help="seconds the server waits before each answer")
    parser.add_argument("--concurrency", type=int, default=None, help="ENGINEER_CONCURRENCY (default: the config's)")
    parser.add_argument("--profile", action="store_true", help="run the company under cProfile and summarise")
    args = parser.parse_args()
    run = run_company(args.latency, args.concurrency, args.profile)
    print(report(run))
    if run.exit_code:
        print(run.output[-2000:])


if __name__ == "__main__":
    main()
