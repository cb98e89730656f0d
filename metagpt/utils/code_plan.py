"""Which planned files depend on which, and running work on them in dependency order.

Before any code exists, dependencies come from the task list (ordered dependencies first) and the
logic analysis: a file depends on an earlier file it mentions by name, by module, or by a class
whose snake_case name is that module (`Snake` -> `snake.py`). Entry points (`main.py`, ...) depend
on every other file. Once code exists, `python_imports` reads the real imports.
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
