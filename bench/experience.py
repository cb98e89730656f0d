"""The experience pool, measured: the company on a family of similar ideas, without and with reading.

Both passes run every idea as a new project in one fresh workspace, with `--run-tests` (QA writes
and runs the tests, so what is stored was confirmed by pytest):

1. **without reading** (`EXP_POOL_READ=false`, writing on): the baseline; its calls are exactly
   those of a run without the pool (tests/experience), and it fills the pool.
2. **with reading**: the same ideas again, each a new project; an exact repeat of a confirmed step
   is answered from the pool with no call (QA still runs the tests), other steps are shown the two
   closest examples and lessons.

Pass rate (QA's last run passed), model calls, tokens, dollars and wall time are printed side by
side. By default the model is the loopback scripted server of the end-to-end tests
(tests/e2e/openai_server.py, the real openai SDK over HTTP), priced as gpt-4o-mini so dollars show.
The same script runs on any endpoint:

    python bench/experience.py                                  # scripted loopback model
    python bench/experience.py --api-type local --ideas 2       # the embedded model
    python bench/experience.py --base-url http://host:8000/v1 --model qwen2.5   # any OpenAI-compatible one
    python bench/experience.py --family interpreter --limit 10  # HumanEval through the interpreter, twice

With `--family interpreter` the interpreter benchmark (bench/interpreter.py: HumanEval, each
problem's tests run on the finished cells) runs twice instead; scripted, its model answers the
canonical solutions.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metagpt.configs.settings import Config  # noqa: E402
from metagpt.context import Context  # noqa: E402
from metagpt.roles import Architect, DataInterpreter, Engineer, ProductManager, ProjectManager, QaEngineer  # noqa: E402
from metagpt.software_company import SoftwareCompany  # noqa: E402

IDEAS = [
    "a command-line snake game",
    "a command-line snake game with a score",
    "a terminal snake game with levels",
    "a command-line snake game for two players",
]
SCRIPTED_MODEL = "gpt-4o-mini"
SCRIPTED_PRICE = {SCRIPTED_MODEL: {"prompt": 0.15, "completion": 0.60}}
"""The scripted server is free (loopback); it is priced as gpt-4o-mini so the dollars column means something."""


async def one(idea: str, config: Config, name: str, investment: float) -> dict[str, Any]:
    """One company on `idea` in project `name`: did QA pass, and what did it cost."""
    company = SoftwareCompany(config)
    company.hire([ProductManager(), Architect(), ProjectManager(), Engineer(), QaEngineer()])
    company.invest(investment)
    started = time.monotonic()
    error = ""
    try:
        company.start_project(idea, project_name=name)
        await company.run(n_round=5 + 2 * config.test_round_allowed)
    except Exception as exc:  # a run that fails is a failed idea, measured like the others
        error = f"{type(exc).__name__}: {exc}"
    finally:
        await company.context.aclose()
    report = company.qa_report
    cost = company.cost_manager.total
    session = company.context.experience
    return {
        "idea": idea, "passed": bool(report and report.passed), "calls": cost.calls,
        "tokens": cost.prompt_tokens + cost.completion_tokens, "dollars": cost.cost,
        "seconds": time.monotonic() - started, "reused": session.reused if session else 0,
        "shown": session.shown if session else 0, "error": error,
    }  # fmt: skip


async def run_pass(label: str, ideas: list[str], config: Config, investment: float) -> list[dict[str, Any]]:
    results = []
    for number, idea in enumerate(ideas, 1):
        result = await one(idea, config, f"{label}_{number}", investment)
        results.append(result)
        mark = "pass" if result["passed"] else "FAIL"
        print(
            f"  {label:<8} {mark}  {result['calls']:>3} calls {result['tokens']:>7} tokens "
            f"${result['dollars']:.4f} {result['seconds']:6.1f}s  reused {result['reused']}, "
            f"examples {result['shown']}  {idea}" + (f"  ({result['error'][:120]})" if result["error"] else ""),
            flush=True,
        )
    return results


async def run_interpreter_pass(label: str, problems: list[dict], config: Config, scripted: bool) -> list[dict]:
    """HumanEval through the interpreter (bench/interpreter.py's harness), each problem a new project."""
    import interpreter as humaneval  # bench/interpreter.py, next to this file

    root = Path(config.workspace_path).parent
    results = []
    for problem in problems:
        started = time.monotonic()
        provider = humaneval.canonical_model(problem) if scripted else None
        context = Context(config, provider=provider)
        role = DataInterpreter(context=context, max_tasks=3)
        try:
            await role.run(humaneval.INSTRUCTION.format(prompt=problem["prompt"]))
            cells = [r.code for r in role.outcome.records if r.status == "done"] if role.outcome else []
            scratch = Path(tempfile.mkdtemp(dir=root))
            passed = bool(cells) and await humaneval.check(problem, cells, scratch)
        finally:
            await context.aclose()
        cost, session = context.cost_manager.total, context.experience
        results.append({
            "idea": problem["task_id"], "passed": passed, "calls": cost.calls,
            "tokens": cost.prompt_tokens + cost.completion_tokens, "dollars": cost.cost,
            "seconds": time.monotonic() - started, "reused": session.reused if session else 0,
            "shown": session.shown if session else 0, "error": "",
        })  # fmt: skip
    n = len(results)
    print(f"  {label:<8} {sum(r['passed'] for r in results)}/{n} passed, {sum(r['calls'] for r in results)} calls")
    return results


def table(passes: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "| pass | checks passed | calls | tokens | dollars | seconds | steps reused | examples shown |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, results in passes.items():
        n = len(results)
        total = {k: sum(r[k] for r in results) for k in ("passed", "calls", "tokens", "dollars", "seconds")}
        lines.append(
            f"| {label} | {total['passed']}/{n} | {total['calls']} | {total['tokens']} | ${total['dollars']:.4f} "
            f"| {total['seconds']:.1f} | {sum(r['reused'] for r in results)} | {sum(r['shown'] for r in results)} |"
        )
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=None, help="an OpenAI-compatible endpoint (default: the scripted one)")
    parser.add_argument("--api-type", default=None, help="override API_TYPE, e.g. local for the embedded model")
    parser.add_argument("--model", default=None, help="override OPENAI_API_MODEL")
    parser.add_argument("--ideas", type=int, default=len(IDEAS), help=f"how many of the {len(IDEAS)} ideas")
    parser.add_argument("--investment", type=float, default=3.0, help="budget per company in dollars")
    parser.add_argument(
        "--family",
        choices=("company", "interpreter"),
        default="company",
        help="the company on similar ideas, or HumanEval problems through the interpreter",
    )
    parser.add_argument("--limit", type=int, default=10, help="interpreter: the first N HumanEval problems")
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")  # the per-idea lines and the table are the output
    ideas = IDEAS[: max(1, args.ideas)]
    scripted = args.base_url is None and args.api_type is None
    server = None
    overrides: dict[str, Any] = {"api_type": args.api_type, "openai_api_model": args.model}
    if scripted:
        from tests.e2e.openai_server import OpenAIServer

        server = OpenAIServer().start()
        overrides.update(openai_base_url=server.base_url, openai_api_key="sk-bench-loopback",
                         openai_api_model=SCRIPTED_MODEL, model_prices=SCRIPTED_PRICE)  # fmt: skip
    else:
        overrides["openai_base_url"] = args.base_url
    root = Path(tempfile.mkdtemp(prefix="expbench"))
    try:
        base = Config.load(**{k: v for k, v in overrides.items() if v is not None})
        base = base.model_copy(update={"workspace_path": root / "ws", "mermaid_engine": "none",
                                       "exp_pool_enabled": True, "exp_pool_write": True})  # fmt: skip
        if scripted:
            where = "scripted loopback model"
        elif base.resolved_api_type == "local":
            where = f"embedded local model {base.local_model_path or '(SmolLM2-135M)'}"
        else:
            where = f"{base.resolved_api_type} {base.openai_api_model} at {base.openai_base_url}"
        print(f"Experience pool bench: {len(ideas)} similar ideas, company with QA, {where}", flush=True)
        off, on = (base.model_copy(update={"exp_pool_read": read}) for read in (False, True))
        if args.family == "interpreter":
            import interpreter as humaneval

            problems = humaneval.load_problems()[: args.limit]
            canonical = scripted  # the scripted model of the interpreter bench answers the canonical solutions
            if canonical:
                off, on = (c.model_copy(update={"api_type": "fake"}) for c in (off, on))
            print(f"HumanEval through the interpreter: {len(problems)} problems, each run twice", flush=True)
            passes = {
                "without reading": await run_interpreter_pass("without", problems, off, canonical),
                "with reading": await run_interpreter_pass("with", problems, on, canonical),
            }
        else:
            passes = {
                "without reading": await run_pass("without", ideas, off, args.investment),
                "with reading": await run_pass("with", ideas, on, args.investment),
            }
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(table(passes))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
