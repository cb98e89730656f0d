"""`ActionOutput`: an action's text together with its structured form."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ActionOutput:
    """What an action may return: `content` (text) and `instruct_content` (a pydantic model).

    A role's default `_act` turns it into a `Message` carrying both.
    """

    def __init__(self, content: str, instruct_content: BaseModel | None = None):
        self.content = content
        self.instruct_content = instruct_content

    def __str__(self) -> str:
        return self.content


def output_parts(result: Any) -> tuple[str, BaseModel | None]:
    """An action's result as a message's text and structured form: an `ActionOutput` (or anything
    with `content` and `instruct_content`) as it says, a pydantic model as its JSON and itself,
    anything else as text (None as empty)."""
    if hasattr(result, "instruct_content") and hasattr(result, "content"):
        return str(result.content), result.instruct_content
    if isinstance(result, BaseModel):
        return result.model_dump_json(indent=2), result
    return ("" if result is None else str(result)), None
