"""`ActionOutput`: an action's text together with its structured form."""

from __future__ import annotations

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
