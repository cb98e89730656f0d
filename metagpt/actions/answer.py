"""`Answer`: reply to the latest message from the model's own knowledge (no search)."""

from __future__ import annotations

from typing import Any

from metagpt.actions.action import Action
from metagpt.configs.settings import check_sendable_text
from metagpt.prompts import render_prompt
from metagpt.schema import Message

HISTORY_MESSAGES = 10


class Answer(Action):
    """Reply to the last message of a conversation, with the earlier ones as history.

    What a role without a document store or search engine does with a question.
    """

    async def run(self, context: list[Message] | Message | str, *args: Any, **kwargs: Any) -> str:
        messages = [context] if isinstance(context, str | Message) else list(context)
        if not messages:
            raise ValueError("Answer needs at least one message to reply to")
        query = str(getattr(messages[-1], "content", messages[-1]))
        check_sendable_text(query, "The question")  # a lone surrogate would fail every request, retried
        history = "\n".join(str(m) for m in messages[-1 - HISTORY_MESSAGES : -1]) or "(none)"
        return (await self._aask(render_prompt("answer", history=history, query=query))).strip()
