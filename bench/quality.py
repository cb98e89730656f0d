"""How valid is what the offline company writes? Whole runs of `startup.py` on fixed ideas, per model.

Each run is the user's path: `python startup.py IDEA` in a fresh process with no key (so the
embedded llama.cpp provider answers; temperature 0, so a run is repeatable), in a temporary
workspace. Then, for the project it wrote:

* files: Python files written, how many parse (`ast.parse`), how many import (each module in
  its own sandboxed process, 10 s), and files the Engineer wrote from the design because the
  model's code did not parse (they parse, but are not the model's);
* entry: the entry point (`main.py`) run with `--help` in the sandbox exits 0 within 15 s;
* tests: with `--run-tests`, test files collected and passed (pytest in the sandbox);
* PRD: goals and user stories that are sentences (3+ words with letters, no JSON punctuation),
  and how many of those share a word with the idea (not the example's snake game);
* diagrams: `resources/*.mmd` that mermaid's own parser accepts (the project's renderer, which
  needs `make mermaid`, or `--node-modules DIR` holding the mermaid package); `n/a` without it;
* wall time of the run.

    python bench/quality.py [--code DIR] [--model GGUF ...] [--ideas 5] [--node-modules DIR] [--json OUT]

`--code` runs another checkout's `startup.py` (e.g. main, for "before" figures); the checks
are always this checkout's. `--model` repeats, `default` meaning the embedded model.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metagpt.actions.code_design import SKELETON_NOTE  # noqa: E402
from metagpt.config import Config  # noqa: E402
from metagpt.sandbox import Limits, run_sandboxed  # noqa: E402

IDEAS = [
    "a command-line todo list app",
    "a command-line snake game",
    "a temperature unit converter for the command line",
    "a word frequency counter for text files",
    "a personal expense tracker with a command-line interface",
]
"""Five domains: a CRUD tool, a game, a calculator, text processing, a small ledger."""
_KEY_VARIABLES = re.compile(r"(OPENAI|ANTHROPIC|GEMINI|AZURE|OLLAMA|API_TYPE|LOCAL_MODEL_PATH|WORKSPACE)")
_WORD = re.compile(r"[A-Za-z]{2,}")
_STOP_WORDS = {"a", "an", "the", "for", "with", "of", "to", "and", "app", "command", "line", "interface", "cli"}


@dataclass
class Outcome:
    """The checks of one run."""

    model: str
    idea: str
    finished: bool = False
    seconds: float = 0.0
    py_files: int = 0
    parse: int = 0
    imports: int = 0
    from_design: int = 0
    entry_ok: bool = False
    tests_collected: int = 0
    tests_passed: int = 0
    prd_items: int = 0
    prd_sentences: int = 0
    prd_on_topic: int = 0
    diagrams: int = 0
    diagrams_valid: int | None = None
    notes: list[str] = field(default_factory=list)


def is_sentence(item: str) -> bool:
    """Three or more words with letters, and no JSON punctuation inside."""
    return len(_WORD.findall(item)) >= 3 and not any(mark in item for mark in '[]{}"')


def idea_words(idea: str) -> set[str]:
    return {w.lower().rstrip("s") for w in _WORD.findall(idea)} - _STOP_WORDS


def on_topic(item: str, idea: str) -> bool:
    """Shares a content word (plural-insensitive) with the idea."""
    return bool(idea_words(item) & idea_words(idea))


def run_company(code: Path, idea: str, model: str, workdir: Path, timeout: float, run_tests: bool) -> Outcome:
    env = {k: v for k, v in os.environ.items() if not _KEY_VARIABLES.search(k)}
    env.update(WORKSPACE_PATH=str(workdir / "ws"), PYTHONPATH=str(code), HOME=str(workdir / "home"))
    if model != "default":
        env["LOCAL_MODEL_PATH"] = model
    command = [sys.executable, str(code / "startup.py"), idea, *(["--run-tests"] if run_tests else [])]
    outcome = Outcome(model=Path(model).stem if model != "default" else "SmolLM2-135M (default)", idea=idea)
    started = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
        outcome.finished = result.returncode == 0
        if result.returncode:
            outcome.notes.append(f"exit {result.returncode}: {(result.stderr or result.stdout).strip()[-300:]}")
    except subprocess.TimeoutExpired:
        outcome.notes.append(f"timed out after {timeout:g}s")
    outcome.seconds = time.perf_counter() - started
    (workdir / "run.log").write_text(f"{' '.join(command)}\n", encoding="utf-8")
    return outcome


async def check_project(project: Path, outcome: Outcome, renderer) -> None:
    package_files = sorted(p for p in project.rglob("*.py") if ".metagpt" not in p.parts and ".git" not in p.parts)
    outcome.py_files = len(package_files)
    for path in package_files:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            ast.parse(text)
        except SyntaxError:
            continue
        outcome.parse += 1
        outcome.from_design += SKELETON_NOTE in text
        module = ".".join(path.relative_to(project).with_suffix("").parts)
        probe = await run_sandboxed(
            [sys.executable, "-c", f"import importlib; importlib.import_module({module!r})"],
            project,
            Limits.wall_clock(10),
            env={"PYTHONPATH": str(project)},
        )
        outcome.imports += probe.ok
    mains = [p for p in package_files if p.name == "main.py" and "tests" not in p.parts]
    if mains:
        module = ".".join(mains[0].relative_to(project).with_suffix("").parts)
        run = await run_sandboxed(
            [sys.executable, "-m", module, "--help"], project, Limits.wall_clock(15), env={"PYTHONPATH": str(project)}
        )
        outcome.entry_ok = run.ok
    if (project / "tests").is_dir():
        run = await run_sandboxed(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            project,
            Limits.wall_clock(120),
            env={"PYTHONPATH": str(project)},
        )
        counts = dict((kind, int(n)) for n, kind in re.findall(r"(\d+) (passed|failed|error)", run.stdout))
        outcome.tests_passed = counts.get("passed", 0)
        outcome.tests_collected = sum(counts.values())
    prd_file = project / "docs" / "prd.json"
    if prd_file.is_file():
        prd = json.loads(prd_file.read_text(encoding="utf-8"))
        items = [str(i) for i in [*prd.get("product_goals", []), *prd.get("user_stories", [])]]
        outcome.prd_items = len(items)
        outcome.prd_sentences = sum(is_sentence(i) for i in items)
        outcome.prd_on_topic = sum(is_sentence(i) and on_topic(i, outcome.idea) for i in items)
    diagrams = sorted((project / "resources").glob("*.mmd"))
    outcome.diagrams = len(diagrams)
    if renderer is not None:
        errors = [await renderer.validate(p.read_text(encoding="utf-8")) for p in diagrams]
        outcome.diagrams_valid = sum(error is None for error in errors)


async def start_renderer(node_modules: Path | None):
    """The project's mermaid parser, or None when no engine is installed here."""
    from metagpt.render.service import DiagramRenderer

    if node_modules is not None:
        os.chdir(node_modules.parent)  # the engines look for ./node_modules
    renderer = DiagramRenderer(Config())
    return renderer if await renderer.ready() is not None else None


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| model | idea | done | time | .py parse / written | import | from design | `--help` | tests pass / run "
        "| PRD sentences / items (on topic) | diagrams valid / written |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        valid = "n/a" if o.diagrams_valid is None else str(o.diagrams_valid)
        done, entry = ("yes" if o.finished else "no"), ("yes" if o.entry_ok else "no")
        lines.append(
            f"| {o.model} | {o.idea} | {done} | {o.seconds:.0f} s | {o.parse} / {o.py_files} | {o.imports} "
            f"| {o.from_design} | {entry} | {o.tests_passed} / {o.tests_collected} "
            f"| {o.prd_sentences} / {o.prd_items} ({o.prd_on_topic}) | {valid} / {o.diagrams} |"
        )
    return "\n".join(lines)


def totals(outcomes: list[Outcome]) -> str:
    def total(name: str) -> int:
        return sum(getattr(o, name) or 0 for o in outcomes)

    valid = "n/a" if any(o.diagrams_valid is None for o in outcomes) else str(total("diagrams_valid"))
    return (
        f"{len(outcomes)} runs, {sum(o.finished for o in outcomes)} finished, {total('seconds'):.0f} s in all; "
        f".py parse {total('parse')}/{total('py_files')}, import {total('imports')}, from design "
        f"{total('from_design')}; --help exits 0 in {total('entry_ok')}; tests {total('tests_passed')}/"
        f"{total('tests_collected')}; PRD sentences {total('prd_sentences')}/{total('prd_items')} "
        f"(on topic {total('prd_on_topic')}); diagrams valid {valid}/{total('diagrams')}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose startup.py runs")
    parser.add_argument("--model", action="append", help="a GGUF file, or `default` (repeatable)")
    parser.add_argument("--ideas", type=int, default=len(IDEAS), help=f"how many of the {len(IDEAS)} ideas")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for one run")
    parser.add_argument("--run-tests", action="store_true", help="hire QA (tests written and run)")
    parser.add_argument("--node-modules", type=Path, help="a node_modules folder with mermaid, for the parser")
    parser.add_argument("--json", type=Path, help="also write the outcomes here")
    args = parser.parse_args()
    renderer = await start_renderer(args.node_modules)
    outcomes = []
    for model in args.model or ["default"]:
        for idea in IDEAS[: args.ideas]:
            with tempfile.TemporaryDirectory(prefix="quality-") as tmp:
                workdir = Path(tmp)
                if args.node_modules is not None:
                    (workdir / "node_modules").symlink_to(args.node_modules.resolve())
                outcome = run_company(args.code.resolve(), idea, model, workdir, args.timeout, args.run_tests)
                projects = [p for p in (workdir / "ws").glob("*") if p.is_dir()]
                if projects:
                    await check_project(projects[0], outcome, renderer)
                else:
                    outcome.notes.append("no project folder written")
            outcomes.append(outcome)
            print(f"{outcome.model} | {idea}: {asdict(outcome)}", flush=True)
    if renderer is not None:
        await renderer.aclose()
    print(f"\nCommand: python bench/quality.py {' '.join(sys.argv[1:])}\n")
    print(table(outcomes))
    print(f"\n{totals(outcomes)}")
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
