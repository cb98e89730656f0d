"""The Engineer's wall time, one file at a time against files written side by side.

A loopback OpenAI-compatible server answers every call after a fixed latency (300 ms by
default). The Engineer writes and reviews a task list of 8 files whose logic analysis gives a
realistic dependency graph; the run is timed with ENGINEER_CONCURRENCY 1 and with the default.
The critical path is the longest chain of calls that must wait for each other: writing along the
deepest dependency chain, then reviewing along it again.

    python bench/engineer.py [--latency 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metagpt.actions import SystemDesign, Tasks, WriteDesign, WriteTasks  # noqa: E402
from metagpt.config import Config  # noqa: E402
from metagpt.roles import Engineer  # noqa: E402
from metagpt.schema import Message  # noqa: E402
from metagpt.software_company import SoftwareCompany  # noqa: E402
from metagpt.utils.code_plan import CodePlan  # noqa: E402
from tests.e2e.openai_server import OpenAIServer, realistic_reply, sample_document  # noqa: E402

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


async def run_engineer(base_url: str, concurrency: int, workspace: Path) -> tuple[float, int]:
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
    await company.run(n_round=2)
    elapsed = time.perf_counter() - started
    calls = company.cost_manager.total.calls
    await company.context.aclose()
    return elapsed, calls


def measure(latency: float) -> tuple[int, float, list[tuple[int, int, float]]]:
    """Dependency depth, critical path seconds, and (concurrency, calls, wall seconds) for 1 and the default."""

    def slow(body):
        time.sleep(latency)
        return realistic_reply(body)

    import metagpt.provider

    metagpt.provider.ALLOW_MODEL_REQUESTS = True
    plan = CodePlan.from_tasks(list(FILES), FILES)
    depth = plan.critical_path()
    critical = 2 * depth * latency  # write along the deepest chain, then review along it
    default = Config.model_fields["engineer_concurrency"].default
    rows = []
    with OpenAIServer(slow) as server, TemporaryDirectory() as scratch:
        for concurrency in (1, default):
            elapsed, calls = asyncio.run(run_engineer(server.base_url, concurrency, Path(scratch)))
            rows.append((concurrency, calls, elapsed))
    return depth, critical, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.3, help="seconds the server waits before each answer")
    args = parser.parse_args()
    depth, critical, rows = measure(args.latency)
    print(f"Engineer: {len(FILES)} files, code review on, {args.latency * 1000:.0f} ms per call")
    print(f"dependency chain: {depth} files; critical path {2 * depth} calls = {critical:.2f} s\n")
    print("| ENGINEER_CONCURRENCY | calls | wall time | wall / critical path |")
    print("| --- | --- | --- | --- |")
    for concurrency, calls, elapsed in rows:
        print(f"| {concurrency} | {calls} | {elapsed:.2f} s | {elapsed / critical:.2f} |")
    print(json.dumps({"speedup": round(rows[0][2] / rows[1][2], 2)}))


if __name__ == "__main__":
    main()
