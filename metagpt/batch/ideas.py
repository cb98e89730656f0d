"""The ideas file of `metagpt batch`: one idea per line, or JSON lines.

    a command-line snake game
    {"idea": "a todo list web app", "project_name": "todo", "investment": 1.5}

Blank lines and lines starting with `#` are skipped. Every idea gets a fixed project folder
name, chosen here once (its `project_name`, or a name made from the idea, numbered when two
ideas would share it), so a rerun with `--resume` finds the same folders.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from metagpt.cost_manager import parse_money
from metagpt.exceptions import UserError
from metagpt.utils.paths import to_identifier


@dataclass(frozen=True)
class Idea:
    """One company of a batch."""

    idea: str
    project_name: str
    investment: float | None = None
    """This company's own budget; None takes the batch's `--investment`."""


def read_ideas(path: Path | str) -> list[Idea]:
    """The ideas of an ideas file, each with its project folder name.

    Raises:
        UserError: the file cannot be read, a JSON line is malformed, or it holds no idea.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            f"Cannot read the ideas file {path}: {exc}. Give a UTF-8 file with one idea per line."
        ) from None
    items: list[tuple[str, str | None, float | None]] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        items.append(_parse_line(line, f"{path}:{number}"))
    if not items:
        raise UserError(f"{path} holds no idea; write one idea per line.")
    return name_ideas(items)


def name_ideas(items: Sequence[tuple[str, str | None, float | None]]) -> list[Idea]:
    """Ideas with distinct folder names: a given name is kept, others are made from the idea."""
    taken: set[str] = set()
    ideas = []
    for idea, name, investment in items:
        base = to_identifier(name) if name else to_identifier(idea, drop_filler=True)
        base = base or "project"
        candidate, n = base, 1
        while candidate in taken:
            if name:
                raise UserError(f"Two ideas use the project name {name!r}; give each its own project_name.")
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        ideas.append(Idea(idea, candidate, investment))
    return ideas


def _parse_line(line: str, where: str) -> tuple[str, str | None, float | None]:
    if not line.startswith("{"):
        return line, None, None
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON ({exc.msg}); write a plain idea or a JSON object.") from None
    idea = data.get("idea") if isinstance(data, dict) else None
    if not isinstance(idea, str) or not idea.strip():
        raise UserError(f'{where}: a JSON line needs "idea": "<what to build>".')
    unknown = set(data) - {"idea", "project_name", "investment"}
    if unknown:
        raise UserError(f"{where}: unknown keys {sorted(unknown)}; use idea, project_name and investment.")
    name = data.get("project_name")
    if name is not None and (not isinstance(name, str) or not to_identifier(name)):
        raise UserError(f"{where}: project_name must be a folder name, e.g. snake_game.")
    investment = data.get("investment")
    if investment is not None:
        investment = parse_money(investment, f"{where}: investment")
    return idea.strip(), name, investment
