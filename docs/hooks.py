"""MkDocs hooks: the pages' reference parts are generated from the code, so they cannot drift.

`<!-- settings -->` becomes the table of every setting (`metagpt.configs.settings.Config`): its
YAML/environment key, default and the field's own docstring. `<!-- commands -->` becomes the
`--help` of `metagpt` and of each of its commands, as the command line prints it.
`<!-- never-committed -->` becomes the history policy's table (`git_history.NEVER_COMMITTED`):
each `.gitignore` line no run ever commits, with why.
"""

from __future__ import annotations

import ast
import inspect
import itertools
from typing import Any


def on_page_markdown(markdown: str, **_: Any) -> str:
    if "<!-- settings -->" in markdown:
        markdown = markdown.replace("<!-- settings -->", settings_table())
    if "<!-- commands -->" in markdown:
        markdown = markdown.replace("<!-- commands -->", commands_help())
    if "<!-- never-committed -->" in markdown:
        markdown = markdown.replace("<!-- never-committed -->", never_committed_table())
    return markdown


def never_committed_table() -> str:
    """One row per line of the project's `.gitignore`, in its order: the pattern and why."""
    from metagpt.utils.git_history import NEVER_COMMITTED

    rows = ["| `.gitignore` line | what it is |", "| --- | --- |"]
    for line, why in NEVER_COMMITTED.items():
        escaped = why.replace("|", "\\|")
        rows.append(f"| `{line}` | {escaped} |")
    return "\n".join(rows)


def settings_table() -> str:
    """One row per setting, the company's own first, then the vendors': key, default, range, meaning."""
    from metagpt.configs.settings import Config

    notes = _attribute_docstrings(Config)
    own = [name for name in Config.model_fields if name in Config.__annotations__]
    names = own + [name for name in Config.model_fields if name not in own]
    rows = ["| key | default | range | meaning |", "| --- | --- | --- | --- |"]
    for name in names:
        field = Config.model_fields[name]
        key = field.alias or _first_alias(field) or name.upper()
        note = notes.get(name) or _key_note(name)
        note = " ".join(note.split()).replace("|", "\\|")
        rows.append(f"| `{key}` | {_default(field)} | {_range(field)} | {note} |")
    return "\n".join(rows)


def _key_note(name: str) -> str:
    """A vendor key's meaning, which its name says: `deepseek_api_key` is DeepSeek's key."""
    if name.endswith("_api_key"):
        vendor = name.removesuffix("_api_key")
        return f"The key of `api_type: {vendor}`, read under this name only; placeholders count as unset."
    return ""


def _range(field: Any) -> str:
    bounds = {type(item).__name__: item for item in field.metadata}
    low = bounds.get("Ge") or bounds.get("Gt")
    high = bounds.get("Le") or bounds.get("Lt")
    if low is None and high is None:
        return ""
    low_text = f"{'>' if 'Gt' in bounds else '≥'} {getattr(low, 'gt', getattr(low, 'ge', ''))}" if low else ""
    high_text = f"{'<' if 'Lt' in bounds else '≤'} {getattr(high, 'lt', getattr(high, 'le', ''))}" if high else ""
    return ", ".join(text for text in (low_text, high_text) if text)


def _first_alias(field: Any) -> str | None:
    choices = getattr(field.validation_alias, "choices", None)
    return str(choices[0]) if choices else None


def _default(field: Any) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None or value in ({}, (), []):
        return "unset"
    return f"`{value}`"


def _attribute_docstrings(model: type) -> dict[str, str]:
    """`field: type = ...` followed by a string: that string, for every class of `model`'s MRO."""
    notes: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not cls.__module__.startswith("metagpt."):
            continue
        body = ast.parse(inspect.getsource(cls)).body[0].body  # type: ignore[attr-defined]
        for node, after in itertools.pairwise(body):
            target = getattr(node, "target", None)
            doc = getattr(after, "value", None)
            if isinstance(target, ast.Name) and isinstance(doc, ast.Constant) and isinstance(doc.value, str):
                notes[target.id] = doc.value
    return notes


def commands_help() -> str:
    """`metagpt --help`, then each command's (and each of a group's commands'), in fenced blocks."""
    import typer.main

    from metagpt.cli import app
    from metagpt.cli.groups import click_core

    root = typer.main.get_command(app)
    top = click_core.Context(root, info_name="metagpt", terminal_width=100, max_content_width=100)
    sections = [_block("metagpt", root.get_help(top))]
    for name in root.list_commands(top):  # type: ignore[attr-defined]
        command = root.commands[name]  # type: ignore[attr-defined]
        ctx = click_core.Context(command, info_name=name, parent=top)
        sections.append(_block(f"metagpt {name}", command.get_help(ctx)))
        for sub in getattr(command, "commands", {}):
            leaf = command.commands[sub]
            sections.append(
                _block(f"metagpt {name} {sub}", leaf.get_help(click_core.Context(leaf, info_name=sub, parent=ctx)))
            )
    return "\n\n".join(sections)


def _block(title: str, text: str) -> str:
    return f"### `{title}`\n\n```text\n{text.rstrip()}\n```"
