"""The package's module graph has no import cycles, and the names moved to break them still import.

The rule: module A depends on module B when A's source has an import statement naming B anywhere:
at the top, under `if TYPE_CHECKING:` or inside a function. `from pkg import name` depends on
`pkg.name` when that is a module, else on `pkg`. One exception: a package's `__init__` may import
its own submodules inside a function (a lazy factory such as `create_provider`); Python imports a
package before any of its submodules, so such an import always meets a fully initialised package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import metagpt


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of `package` under `root`."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _in_functions(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inside.update(id(child) for child in ast.walk(node) if child is not node)
    return inside


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports, by the rule in the module docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    in_functions = _in_functions(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            lazy_own_submodule = is_package and id(node) in in_functions and target.startswith(f"{name}.")
            if target and target != name and not lazy_own_submodule:
                found.add(target)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    modules = module_files(root, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_the_package_has_no_import_cycles():
    root = Path(metagpt.__file__).resolve().parent.parent
    graph = import_graph(root, "metagpt")
    assert len(graph) > 50 and "metagpt.roles.role" in graph["metagpt.environment"]
    assert cycles(graph) == []


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for relative, text in files.items():
        path = tmp_path / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(tmp_path, "pkg")


def test_type_checking_and_function_level_imports_count(tmp_path):
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n",
            "b.py": "def f():\n    from pkg import a\n",
            "c.py": "from . import d\n",
            "d.py": "from .c import something\n",
        },
    )
    assert cycles(graph) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"]]


def test_a_lazy_factory_in_a_package_init_is_not_a_cycle_but_a_top_level_reexport_is(tmp_path):
    graph = _package(
        tmp_path,
        {
            "__init__.py": "FLAG = True\ndef make():\n    from pkg.impl import Impl\n    return Impl()\n",
            "impl.py": "from pkg import FLAG\n",
            "sub/__init__.py": "from pkg.sub.service import Service\n",
            "sub/service.py": "def f():\n    from pkg.user import use\n",
            "user.py": "from pkg.sub import Service\n",
        },
    )
    assert cycles(graph) == [["pkg.sub", "pkg.sub.service", "pkg.user"]]


def test_names_moved_to_break_cycles_still_import_where_they_were():
    from metagpt.actions.add_requirement import UserRequirement
    from metagpt.const import USER_REQUIREMENT_ROUTE
    from metagpt.provider import llama_runtime, local_llama
    from metagpt.schema import Message, any_to_str
    from metagpt.tools import search_base, search_engine, web_search

    assert any_to_str(UserRequirement) == USER_REQUIREMENT_ROUTE
    assert Message("idea").cause_by == UserRequirement
    assert local_llama.import_llama_cpp is llama_runtime.import_llama_cpp
    assert local_llama.INSTALL_HINT == llama_runtime.INSTALL_HINT
    assert search_engine.SearchEngine is search_base.SearchEngine is web_search.SearchEngine
    assert search_engine.SearchResult is search_base.SearchResult
    assert issubclass(web_search.SerperEngine, search_engine.SearchEngine)


LAYERS = [  # docs/architecture.md's table, from the top down
    ["metagpt.cli", "metagpt.compat"],
    ["metagpt.batch"],
    ["metagpt.resume"],
    ["metagpt.incremental"],
    ["metagpt.software_company", "metagpt.team", "metagpt.team_state", "metagpt.environment"],
    ["metagpt.roles"],
    ["metagpt.actions"],
    ["metagpt.report"],
    ["metagpt.llm", "metagpt.model_call", "metagpt.reservation", "metagpt.context"],
    [
        "metagpt.project_repo",
        "metagpt.render",
        "metagpt.journal",
        "metagpt.document_store",
        "metagpt.embeddings",
        "metagpt.experience",
        "metagpt.tools",
        "metagpt.sandbox",
        "metagpt.cost_manager",
    ],
    ["metagpt.provider"],
    ["metagpt.configs"],
    ["metagpt.utils", "metagpt.schema", "metagpt.const", "metagpt.exceptions", "metagpt.prompts"],
]


def _layer(module: str) -> int | None:
    """The row of `LAYERS` holding `module` (counted from the top), or None for a module it does not list."""
    for depth, layer in enumerate(LAYERS):
        if any(module == top or module.startswith(f"{top}.") for top in layer):
            return depth
    return None


def test_each_layer_imports_only_the_layers_under_it():
    root = Path(metagpt.__file__).resolve().parent.parent
    upwards = []
    for name, targets in import_graph(root, "metagpt").items():
        for target in targets:
            here, there = _layer(name), _layer(target)
            if here is not None and there is not None and there < here:
                upwards.append(f"{name} -> {target}")
    assert upwards == []
