"""Batch fixtures: ideas, a config on the loopback server, and the server's bill."""

from __future__ import annotations

from pathlib import Path

from metagpt.config import Config
from metagpt.cost_manager import TOKEN_PRICES
from tests.e2e.conftest import API_KEY, MODEL
from tests.e2e.test_resume import tree_digest

IDEAS = [
    "a command-line snake game",
    "a todo list with due dates",
    "a unit converter for lengths",
    "a markdown to html converter",
    "a password strength checker",
    "a tic tac toe game",
]
MAX_TOKENS = 1200
"""Small enough that a call's worst case is a few times its real cost, so half a budget runs half the work."""


def loopback_config(base_url: str, **settings) -> Config:
    return Config(
        openai_base_url=base_url,
        openai_api_key=API_KEY,
        openai_api_model=MODEL,
        mermaid_engine="none",
        max_tokens=MAX_TOKENS,
        engineer_concurrency=1,
        **settings,
    )


def bill(usages: list[dict[str, int]]) -> float:
    """What the server's reported usage costs at our prices."""
    price = TOKEN_PRICES[MODEL]
    return sum(u["prompt_tokens"] * price.prompt + u["completion_tokens"] * price.completion for u in usages) / 1e6


def digests(workspace: Path) -> dict[str, str]:
    """Each project folder's documents and code, digested."""
    return {p.name: tree_digest(p) for p in sorted(workspace.iterdir()) if p.is_dir() and not p.name.startswith(".")}


def kept_files(project: Path) -> list[str]:
    return sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file() and ".git" not in p.parts)
