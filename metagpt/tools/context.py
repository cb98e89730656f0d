"""`ToolContext`: what a built-in tool may use during one interpreter run, set per call."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metagpt.configs.settings import Config
from metagpt.exceptions import UserError


@dataclass
class ToolContext:
    """The run's config (allow-list, search keys), its document store and its project folder."""

    config: Config
    workdir: Path
    store: Any = None
    """A `FaissStore` (or anything with `search_hits`) the knowledge-base tool searches."""


current_tool_context: ContextVar[ToolContext | None] = ContextVar("current_tool_context", default=None)


def tool_context() -> ToolContext:
    """The context of the running tool call.

    Raises:
        UserError: the tool was called outside an interpreter run.
    """
    context = current_tool_context.get()
    if context is None:
        raise UserError("This tool runs inside an interpreter run (DataInterpreter); call it from there.")
    return context
