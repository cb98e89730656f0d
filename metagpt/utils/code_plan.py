"""Which planned files depend on which, and running work on them in dependency order.

Before any code exists, dependencies come from the task list (ordered dependencies first) and the
logic analysis: a file depends on an earlier file it mentions by name, by module, or by a class
whose snake_case name is that module (`Snake` -> `snake.py`). Entry points (`main.py`, ...) depend
on every other file. Once code exists, `python_imports` reads the real imports.

`write_and_review` runs the Engineer's two steps as a pipeline: a file is written once the files it
depends on are written, and reviewed once it is written and the files it really imports are final
(reviewed), so reviews overlap the writing of later files.
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TypeVar

from metagpt.utils.concurrency import gather_or_cancel

T = TypeVar("T")

ENTRY_POINTS = {"main.py", "__main__.py", "app.py", "cli.py", "run.py", "manage.py"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def module_name(path: str) -> str:
    """`game/board.py` -> `board` (the name code inside the package imports it by)."""
    return PurePosixPath(path).stem


def snake_case(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


@dataclass
class CodePlan:
    """The files to write, in task order, and what each depends on."""

    files: list[str]
    depends_on: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    """Logic analysis per file."""

    @classmethod
    def from_tasks(cls, files: list[str], notes: dict[str, str]) -> CodePlan:
        plan = cls(files=list(files), notes=dict(notes))
        modules = [f for f in plan.files if PurePosixPath(f).name not in ENTRY_POINTS]
        for name in plan.files:
            if name not in modules:  # an entry point runs everything else, wherever it is listed
                plan.depends_on[name] = list(modules)
            else:
                earlier = modules[: modules.index(name)]
                plan.depends_on[name] = [f for f in earlier if _mentions(plan.notes.get(name, ""), f)]
        return plan

    def python_files(self) -> list[str]:
        return [f for f in self.files if f.endswith(".py")]

    def critical_path(self) -> int:
        """Length (in files) of the longest chain of dependent files."""
        depth: dict[str, int] = {}

        def visit(name: str, seen: frozenset[str] = frozenset()) -> int:
            if name not in depth:
                deps = [d for d in self.depends_on.get(name, []) if d not in seen]
                depth[name] = 1 + max((visit(d, seen | {name}) for d in deps), default=0)
            return depth[name]

        return max((visit(f) for f in self.files), default=0)

    def write_order(self) -> list[str]:
        """The files in an order where each comes after the files it depends on (task order otherwise)."""
        order: list[str] = []
        placed: set[str] = set()

        def place(name: str, visiting: frozenset[str] = frozenset()) -> None:
            if name in placed or name in visiting:
                return
            for dependency in self.depends_on.get(name, []):
                if dependency in self.depends_on:
                    place(dependency, visiting | {name})
            placed.add(name)
            order.append(name)

        for name in self.files:
            place(name)
        return order

    def review_waits_for(self, filename: str, uses: Iterable[str]) -> list[str]:
        """The files whose review must end before `filename`'s review starts: those it uses that come
        earlier in `write_order` (a later one, from an import cycle, is only waited for as written)."""
        rank = {name: index for index, name in enumerate(self.write_order())}
        return [d for d in uses if d in rank and d != filename and rank[d] < rank[filename]]

    def tails(self) -> dict[tuple[str, str], int]:
        """For `("write" | "review", file)`: the calls on the longest chain from it to the end.

        Reviews are assumed to wait for the reviews of the files the plan says they depend on
        (their imports are not known before the code exists). Used to give the next free slot
        to the call that most delays the end.
        """
        order = self.write_order()
        dependents: dict[str, list[str]] = {name: [] for name in order}
        for name in order:
            for dependency in self.depends_on.get(name, []):
                if dependency in dependents:
                    dependents[dependency].append(name)
        tail: dict[tuple[str, str], int] = {}
        for name in reversed(order):
            waiting = [g for g in dependents[name] if name in self.review_waits_for(g, self.depends_on.get(g, []))]
            tail[("review", name)] = 1 + max((tail[("review", g)] for g in waiting), default=0)
            later = [tail[("write", g)] for g in dependents[name]]
            tail[("write", name)] = 1 + max([tail[("review", name)], *later])
        return tail

    def pipeline_calls(self, uses: dict[str, list[str]]) -> int:
        """Calls on the longest chain of `write_and_review` with one review round and no rewrites.

        Args:
            uses: the planned files each file imports (as the review sees them).
        """
        written: dict[str, int] = {}
        reviewed: dict[str, int] = {}
        for name in self.write_order():
            deps = [written[d] for d in self.depends_on.get(name, []) if d in written]
            written[name] = 1 + max(deps, default=0)
            waits = [reviewed[d] for d in self.review_waits_for(name, uses.get(name, [])) if d in reviewed]
            reviewed[name] = 1 + max([written[name], *waits])
        return max(reviewed.values(), default=0)


def _mentions(text: str, path: str) -> bool:
    if not text:
        return False
    stem = module_name(path)
    if re.search(rf"(?<![\w.]){re.escape(path)}\b", text) or re.search(rf"\b{re.escape(stem)}\b", text):
        return True
    return any(snake_case(word) == stem for word in re.findall(r"\b[A-Z][A-Za-z0-9]+\b", text))


def python_imports(code: str, planned: Iterable[str]) -> list[str]:
    """The planned files a Python file really imports (by module name or dotted path)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    by_module: dict[str, str] = {}
    for path in planned:
        by_module.setdefault(module_name(path), path)
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [alias.name for alias in node.names]
        for name in names:
            for part in name.split("."):
                if part in by_module and by_module[part] not in found:
                    found.append(by_module[part])
    return found


async def in_dependency_order(plan: CodePlan, work: Callable[[str], Awaitable[T]], concurrency: int) -> dict[str, T]:
    """Run `work(file)` for every file once its dependencies are done, at most `concurrency` at once.

    Results come back in the plan's order. The first failure cancels the rest and is raised.
    """
    done = {name: asyncio.Event() for name in plan.files}
    slots = asyncio.Semaphore(max(1, concurrency))

    async def one(name: str) -> T:
        for dependency in plan.depends_on.get(name, []):
            if dependency in done:
                await done[dependency].wait()
        async with slots:
            result = await work(name)
        done[name].set()
        return result

    results = await gather_or_cancel(one(name) for name in plan.files)
    return dict(zip(plan.files, results, strict=True))


async def write_and_review(
    plan: CodePlan,
    write: Callable[[str], Awaitable[object]],
    review: Callable[[str], Awaitable[object]] | None,
    uses: Callable[[str], Iterable[str]],
    concurrency: int,
    after_writes: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Write every file, and review each as soon as it can be, at most `concurrency` calls at once.

    `write(file)` can start once the files it depends on (`plan.depends_on`) are written.
    `review(file)` can start once `file` is written and the files it uses (`uses(file)`, asked
    once the file is written: its real imports) are reviewed, or for an import that comes later
    in `write_order` (an import cycle), written. Of the steps that can start, a free slot goes to
    the one with the longest chain of steps after it (`CodePlan.tails`). `after_writes()` runs
    once every file is written, while reviews go on. The first failure cancels the rest and is
    raised.
    """
    tails = plan.tails()
    steps = [("write", name) for name in plan.files]
    if review is not None:
        steps += [("review", name) for name in plan.files]
    written: set[str] = set()
    reviewed: set[str] = set()
    waits: dict[str, tuple[list[str], set[str]]] = {}
    """For a written file: the files its review waits for, and which of them must be reviewed."""

    def can_start(step: tuple[str, str]) -> bool:
        kind, name = step
        if kind == "write":
            return all(d in written or d not in plan.depends_on for d in plan.depends_on.get(name, []))
        if name not in written:
            return False
        used, final = waits[name]
        return all(d in (reviewed if d in final else written) for d in used)

    def finished(step: tuple[str, str]) -> None:
        kind, name = step
        if kind == "review":
            reviewed.add(name)
            return
        written.add(name)
        used = [d for d in dict.fromkeys(uses(name)) if d in plan.depends_on and d != name] if review else []
        waits[name] = (used, set(plan.review_waits_for(name, used)))

    running: dict[asyncio.Task, tuple[str, str] | None] = {}
    pending = list(steps)
    limit = max(1, concurrency)
    try:
        while pending or running:
            ready = sorted((s for s in pending if can_start(s)), key=lambda s: -tails.get(s, 1))
            for step in ready[: limit - sum(1 for s in running.values() if s is not None)]:
                pending.remove(step)
                work = review if step[0] == "review" and review is not None else write  # reviews exist with a review
                running[asyncio.ensure_future(work(step[1]))] = step
            if not running:
                raise RuntimeError(f"no step can start: {pending}")  # pragma: no cover - the plan is a DAG
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                ended = running.pop(task)
                task.result()  # raises the step's failure
                if ended is not None:
                    finished(ended)
                    all_written = len(written) == len(plan.files) and ended[0] == "write"
                    if all_written and after_writes is not None:
                        running[asyncio.ensure_future(after_writes())] = None
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
