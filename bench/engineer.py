"""The Engineer's wall time, one call at a time against writes and reviews pipelined.

1. The Engineer alone: a loopback OpenAI-compatible server, in a process of its own, answers
   every call after a fixed latency (300 ms by default); the Engineer writes and reviews a task
   list of 8 files whose logic analysis gives a realistic dependency graph, timed with
   ENGINEER_CONCURRENCY 1 and with the default, after one warm-up run in the same process. The
   critical path is the longest chain of calls that must wait for each other
   (`CodePlan.pipeline_calls`): a file's write waits for the files it depends on, its review for
   its write and for the reviews of the files its code imports.
2. The whole company (`startup.py IDEA`, code review on, no tests) against the same server
   answering after 2 s, with the default concurrency and fully sequential (ENGINEER_CONCURRENCY
   1): the CLI's reported time of each, their ratio, and the critical path of the run's calls
   (the three documents, then `CodePlan.pipeline_calls` for the files the run wrote). Twice: on
   the server's task list (snake.py <- game.py <- main.py, a chain of three writes) and on one
   whose two modules do not depend on each other (only main.py uses both).

    python bench/engineer.py [--latency 0.3] [--company-latency 2] [--skip-company]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from company_run import IDEA, Recorder, file_dependencies  # noqa: E402

from metagpt.actions import SystemDesign, Tasks, WriteDesign, WriteTasks  # noqa: E402
from metagpt.configs.settings import Config  # noqa: E402
from metagpt.roles import Engineer  # noqa: E402
from metagpt.schema import Message  # noqa: E402
from metagpt.software_company import SoftwareCompany  # noqa: E402
from metagpt.utils.code_plan import CodePlan, python_imports  # noqa: E402
from tests.e2e.openai_server import (  # noqa: E402
    OpenAIServer,
    answer,
    realistic_reply,
    requested_document,
    sample_document,
)

FILES = {
    "config.py": "Settings dataclass read from the environment",
    "models.py": "Task and Project dataclasses",
    "utils.py": "slugify and date helpers",
    "storage.py": "JSON storage of Project and Task objects, uses models and config",
    "parser.py": "parses the command line into requests, uses utils",
    "service.py": "business rules, uses Storage and Parser",
    "api.py": "HTTP handlers calling Service",
    "main.py": "entry point: wires everything and starts the api",
}


def documents() -> tuple[SystemDesign, Tasks]:
    design = SystemDesign.model_validate(
        {**sample_document(SystemDesign), "python_package_name": "todo_app", "file_list": list(FILES)}
    )
    tasks = Tasks.model_validate(
        {
            **sample_document(Tasks),
            "task_list": list(FILES),
            "logic_analysis": [{"file": name, "description": text} for name, text in FILES.items()],
        }
    )
    return design, tasks


async def run_engineer(base_url: str, concurrency: int, workspace: Path) -> tuple[float, int, dict[str, list[str]]]:
    """Wall seconds, calls, and the planned files each written file imports."""
    config = Config(
        openai_base_url=base_url,
        openai_api_key="sk-bench",
        openai_api_model="gpt-4o-mini",
        engineer_concurrency=concurrency,
        workspace_path=workspace,
    )
    company = SoftwareCompany(config)
    company.hire([Engineer()])
    company.start_project("a todo app", project_name=f"todo_{concurrency}")
    design, tasks = documents()
    env = company.env
    env.publish_message(Message(design.to_markdown(), instruct_content=design, cause_by=WriteDesign))
    env.publish_message(Message(tasks.to_markdown(), instruct_content=tasks, cause_by=WriteTasks))
    started = time.perf_counter()
    await env.run(1)  # the Engineer's own round: writing, reviews and its commits, not the report after
    elapsed = time.perf_counter() - started
    calls = company.cost_manager.total.calls
    code = next(role for role in env.roles.values() if isinstance(role, Engineer)).code
    uses = {name: python_imports(text, list(FILES)) for name, text in code.items()}
    await company.context.aclose()
    return elapsed, calls, uses


def serve(latency: float) -> None:
    """Run the loopback server answering after `latency` seconds; print its URL, stop at end of input."""

    def slow(body):
        time.sleep(latency)
        return realistic_reply(body)

    with OpenAIServer(slow) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()


@contextlib.contextmanager
def server_process(latency: float) -> Iterator[str]:
    """`serve` in a process of its own, so that its work does not share the Engineer's interpreter
    (a real endpoint's time is spent elsewhere too): yields its base URL."""
    command = [sys.executable, __file__, "--serve", str(latency)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        base_url = child.stdout.readline().strip()
        if not base_url:
            raise RuntimeError("the loopback server did not start")
        yield base_url
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def measure(latency: float) -> tuple[int, float, list[tuple[int, int, float]]]:
    """Dependency depth, critical path seconds, and (concurrency, calls, wall seconds) for 1 and the default."""
    import metagpt.provider

    metagpt.provider.ALLOW_MODEL_REQUESTS = True
    plan = CodePlan.from_tasks(list(FILES), FILES)
    depth = plan.critical_path()
    default = Config.model_fields["engineer_concurrency"].default
    rows = []
    uses: dict[str, list[str]] = {}
    with server_process(latency) as base_url, TemporaryDirectory() as scratch:
        asyncio.run(run_engineer(base_url, default, Path(scratch) / "warm-up"))  # imports, vocabularies
        for concurrency in (1, default):
            elapsed, calls, uses = asyncio.run(run_engineer(base_url, concurrency, Path(scratch)))
            rows.append((concurrency, calls, elapsed))
    critical = plan.pipeline_calls(uses) * latency
    return depth, critical, rows


INDEPENDENT_MODULES = [{"file": "game.py", "description": "Game class: game loop and score"}]
"""A logic analysis under which snake.py and game.py can be written at the same time."""


class TaskListRecorder(Recorder):
    """The recording server, answering the task list with another logic analysis."""

    def __init__(self, latency: float, logic_analysis: list[dict[str, str]]):
        super().__init__(latency)
        self.logic_analysis = logic_analysis

    def __call__(self, body):
        reply = super().__call__(body)
        if requested_document(body) is not Tasks:
            return reply
        text = json.dumps({**json.loads(reply.text), "logic_analysis": self.logic_analysis})
        with self._lock:
            index = next(c.index for c in reversed(self.calls) if c.stage == "tasks")
            self.replies[index] = text
        return answer(text)


def company(
    latency: float, concurrency: int | None, logic_analysis: list[dict[str, str]] | None = None
) -> tuple[float, int, float, int]:
    """One `startup.py IDEA` run (review on): reported seconds, calls, critical path seconds and calls."""
    recorder = Recorder(latency) if logic_analysis is None else TaskListRecorder(latency, logic_analysis)
    with OpenAIServer(recorder) as server, TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_API_MODEL": "gpt-4o-mini",
            "WORKSPACE_PATH": str(Path(scratch) / "workspace"),
        }
        if concurrency is not None:
            env["ENGINEER_CONCURRENCY"] = str(concurrency)
        command = [sys.executable, str(ROOT / "startup.py"), IDEA, "--base-url", server.base_url]
        command += ["--project-name", "bench"]
        done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True, check=False)
        output = done.stdout + done.stderr
        if done.returncode:
            raise RuntimeError(f"the company run failed (exit {done.returncode}):\n{output[-3000:]}")
        depends_on = file_dependencies(recorder.calls, recorder.replies)
        package = json.loads((Path(scratch) / "workspace/bench/docs/system_design.json").read_text())
        folder = Path(scratch) / "workspace/bench" / package["python_package_name"]
        uses = {name: python_imports((folder / name).read_text(), list(depends_on)) for name in depends_on}
    reported = float(re.search(r"^Time: ([\d.]+)s", output, re.MULTILINE).group(1))
    documents = [c for c in recorder.calls if c.stage in ("PRD", "design", "tasks")]
    pipeline = CodePlan(files=list(depends_on), depends_on=depends_on).pipeline_calls(uses)
    critical = sum(c.seconds for c in documents) + pipeline * latency
    return reported, len(recorder.calls), critical, len(documents) + pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.3, help="seconds the server waits before each answer")
    parser.add_argument("--company-latency", type=float, default=2.0, help="the same, for the whole company run")
    parser.add_argument("--skip-company", action="store_true", help="only measure the Engineer alone")
    parser.add_argument("--serve", type=float, metavar="LATENCY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        return serve(args.serve)
    depth, critical, rows = measure(args.latency)
    print(f"Engineer: {len(FILES)} files, code review on, {args.latency * 1000:.0f} ms per call")
    print(f"dependency chain: {depth} files; critical path {critical / args.latency:.0f} calls = {critical:.2f} s\n")
    print("| ENGINEER_CONCURRENCY | calls | wall time | wall / critical path |")
    print("| --- | --- | --- | --- |")
    for concurrency, calls, elapsed in rows:
        print(f"| {concurrency} | {calls} | {elapsed:.2f} s | {elapsed / critical:.2f} |")
    figures = {"speedup": round(rows[0][2] / rows[1][2], 2), "wall_over_critical": round(rows[1][2] / critical, 2)}
    if not args.skip_company:
        latency = args.company_latency
        for label, analysis in (("chain", None), ("independent", INDEPENDENT_MODULES)):
            wall, calls, path, path_calls = company(latency, None, analysis)
            sequential, _, _, _ = company(latency, 1, analysis)
            print(f"\nCompany ({label} task list), code review on, {latency:.1f} s per call: {calls} calls")
            print(f"critical path: {path_calls} calls = {path:.2f} s of {calls * latency:.1f} s of calls")
            print(f"reported time: {wall:.2f} s; fully sequential (ENGINEER_CONCURRENCY 1): {sequential:.2f} s")
            figures |= {
                f"{label}_over_sequential": round(wall / sequential, 3),
                f"{label}_over_calls": round(wall / (calls * latency), 3),
                f"{label}_over_critical": round(wall / path, 3),
            }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
