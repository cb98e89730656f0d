"""Messages exchanged between roles."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field


def any_to_str(value: Any) -> str:
    """Stable routing key of an action class, action instance or string."""
    if isinstance(value, str):
        return value
    cls = value if isinstance(value, type) else type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


class Message(BaseModel):
    """One message on the company's bus.

    Routing keys (`cause_by`, `sent_from`, `send_to`) are derived from classes and role names with
    `any_to_str`, never typed by hand.
    """

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    content: str
    instruct_content: BaseModel | None = None
    """The structured output of the action that produced this message."""
    role: str = "user"
    """Profile of the author (e.g. `Product Manager`), or `user` for the boss."""
    cause_by: str = ""
    """`any_to_str` of the action that produced the message."""
    sent_from: str = ""
    send_to: set[str] = Field(default_factory=set)
    """Names or profiles of explicit recipients; empty means whoever watches `cause_by`."""

    def __str__(self) -> str:
        return f"{self.role}: {self.content}"

    def to_llm(self) -> dict[str, str]:
        """The OpenAI chat form of this message."""
        return {"role": "assistant" if self.role not in ("user", "system") else self.role, "content": self.content}
