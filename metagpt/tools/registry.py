"""Tools the interpreter's code may call: `@register_tool(tags=[...])` and BM25 recommendation.

    @register_tool(tags=["weather"])
    def forecast(city: str) -> dict:
        \"\"\"The weather forecast for a city.\"\"\"

A tool is a plain function (or a class, whose public methods are described); its schema comes
from its signature and its Google-style docstring. `ToolRegistry.recommend` ranks tools for a
task by BM25 over name, tags and description, so the prompt describes only the few that fit.
Tools run in MetaGPT's process, not in the sandboxed kernel: generated code calls them through
the tool bridge (`metagpt/tools/bridge.py`), so a tool can reach what the kernel may not.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Tool:
    """One registered tool: the callable and what the model is told about it."""

    name: str
    func: Callable[..., Any]
    description: str
    signature: str
    tags: tuple[str, ...] = ()
    parameters: dict[str, str] = field(default_factory=dict)
    """Parameter name -> its docstring description."""

    def schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "signature": self.signature,
            "description": self.description,
            "tags": list(self.tags),
            "parameters": dict(self.parameters),
        }

    def prompt(self) -> str:
        """How the tool is shown in a code prompt: its call signature and what it does."""
        params = "".join(f"\n    {k}: {v}" for k, v in self.parameters.items())
        return f"- {self.name}{self.signature}: {self.description}{params}"

    @property
    def words(self) -> list[str]:
        return tokenize(
            " ".join([self.name.replace("_", " "), *self.tags, self.description, *self.parameters.values()])
        )


def tokenize(text: str) -> list[str]:
    """Lower-case word stems for BM25 (a plural `s` dropped)."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary paragraph and the `Args:` descriptions of a Google-style docstring."""
    doc = inspect.cleandoc(doc or "")
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    params: dict[str, str] = {}
    match = re.search(r"^Args:\n((?:[ \t]+.*\n?)+)", doc, re.M)
    if match:
        current = ""
        for line in match.group(1).splitlines():
            entry = re.match(r"\s+(\*{0,2}\w+)(?:\s*\([^)]*\))?:\s*(.*)", line)
            if entry and (len(line) - len(line.lstrip())) <= 4:
                current = entry.group(1)
                params[current] = entry.group(2).strip()
            elif current:
                params[current] += " " + line.strip()
    return summary, params


def make_tool(obj: Callable[..., Any], tags: list[str] | None = None, name: str | None = None) -> Tool:
    """A `Tool` from a function (or class) with a docstring.

    Raises:
        ValueError: `obj` has no docstring (the model would not know what it does).
    """
    if not (obj.__doc__ or "").strip():
        raise ValueError(f"tool {obj.__name__} needs a docstring saying what it does")
    summary, params = parse_docstring(obj.__doc__ or "")
    target = obj.__init__ if inspect.isclass(obj) else obj
    signature = inspect.signature(target)
    if inspect.isclass(obj):
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    signature = signature.replace(
        parameters=[p.replace(annotation=_bare(p.annotation)) for p in signature.parameters.values()],
        return_annotation=_bare(signature.return_annotation),
    )
    return Tool(name or obj.__name__, obj, summary, str(signature), tuple(tags or ()), params)


class _Bare(str):
    """An annotation written as a string (postponed evaluation), shown without quotes."""

    def __repr__(self) -> str:
        return str(self)


def _bare(annotation: Any) -> Any:
    return _Bare(annotation) if isinstance(annotation, str) else annotation


class ToolRegistry:
    """Tools by name; `recommend` picks the ones that fit a task."""

    def __init__(self) -> None:
        self.tools: dict[str, Tool] = {}

    def register(self, tool: Tool) -> Tool:
        self.tools[tool.name] = tool
        return tool

    def get(self, name: str) -> Tool:
        return self.tools[name]

    def has(self, name: str) -> bool:
        return name in self.tools

    def select(self, names: list[str] | None) -> list[Tool]:
        """The named tools (every one when `names` is None); an unknown name is a `UserError`."""
        from metagpt.exceptions import UserError

        if names is None:
            return list(self.tools.values())
        unknown = [n for n in names if n not in self.tools]
        if unknown:
            known = ", ".join(sorted(self.tools)) or "none"
            raise UserError(f"Unknown tool(s) {', '.join(unknown)}; registered: {known}.")
        return [self.tools[n] for n in names]

    def recommend(self, query: str, k: int = 3, among: list[Tool] | None = None) -> list[Tool]:
        """The `k` tools whose name, tags and description best match `query` (BM25), best first.

        Tools that share no word with the query are not recommended. (In a corpus of two, BM25's
        idf of a word in one document is 0, so sharing a word is the test, the score the order.)
        """
        tools = among if among is not None else list(self.tools.values())
        if not tools:
            return []
        words = tokenize(query)
        corpus = [t.words for t in tools]
        scores = bm25_scores(corpus, words)
        ranked = sorted(zip(scores, range(len(tools)), strict=True), key=lambda p: (-p[0], p[1]))
        wanted = set(words)
        return [tools[i] for _, i in ranked if wanted.intersection(corpus[i])][:k]


def bm25_scores(corpus: list[list[str]], query: list[str]) -> list[float]:
    """BM25 (Okapi) score of each document for the query, by `rank_bm25` when installed."""
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:  # the interpreter extra is not installed: the same formula, inline
        return _bm25(corpus, query)
    if not any(corpus):
        return [0.0] * len(corpus)
    bm25 = BM25Okapi(corpus, epsilon=0.25)
    return [float(s) for s in bm25.get_scores(query)]


def _bm25(corpus: list[list[str]], query: list[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    import math

    n = len(corpus)
    avg = sum(map(len, corpus)) / n if n else 0.0
    scores = [0.0] * n
    for term in set(query):
        df = sum(1 for doc in corpus if term in doc)
        if not df:
            continue
        idf = max(math.log((n - df + 0.5) / (df + 0.5)), 0.25 * math.log(1 + n / df))
        for i, doc in enumerate(corpus):
            tf = doc.count(term)
            if tf:
                scores[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / (avg or 1)))
    return scores


TOOL_REGISTRY = ToolRegistry()
"""The tools `@register_tool` adds (MetaGPT's name). The built-in ones register when
`metagpt.tools.libs` is imported."""


def register_tool(tags: list[str] | None = None, name: str | None = None, registry: ToolRegistry | None = None):
    """Register the decorated function or class as a tool; returns it unchanged."""

    def decorator(obj: F) -> F:
        (registry or TOOL_REGISTRY).register(make_tool(obj, tags, name))
        return obj

    return decorator
