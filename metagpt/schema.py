"""Messages exchanged between roles, and the routing keys they carry.

A message is routed by two keys: `cause_by`, the action that produced it (roles `_watch`
actions), and `send_to`, the names of its recipients (`<all>` by default). Both accept classes,
instances or strings and store strings (`any_to_str`), so comparisons never depend on imports.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator

from metagpt.const import MESSAGE_ROUTE_TO_ALL, USER_REQUIREMENT_ROUTE


def any_to_str(value: Any) -> str:
    """Routing key of a class, an instance or a string: `module.QualName`, or the string itself."""
    if isinstance(value, str):
        return str.__str__(value)
    cls = value if isinstance(value, type) else type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def any_to_str_set(values: Any) -> set[str]:
    """Routing keys of one value or of an iterable of them (strings count as one value)."""
    if isinstance(values, str | type) or not isinstance(values, Iterable):
        return {any_to_str(values)}
    return {any_to_str(value) for value in values}


class RouteKey(str):
    """A `cause_by` value: a string that also equals the action class or instance it names.

    So `message.cause_by == UserRequirement` is true, as scripts written for MetaGPT expect.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other if isinstance(other, str) else any_to_str(other))

    __hash__ = str.__hash__


class Recipients(set[str]):
    """A `send_to` value: a set of names that also equals a single name given as a string.

    Older scripts compare `message.send_to == "Bob"`; newer ones compare with `{"Bob"}`.
    """

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return len(self) == 1 and other in self
        return set.__eq__(self, other)

    __hash__ = None  # a set is mutable


class RawMessage(TypedDict):
    """A chat message as the API takes it (`{"role": ..., "content": ...}`), MetaGPT's name."""

    role: str
    content: str


class Message(BaseModel):
    """One message on a team's bus.

    `Message("text")` works positionally. `cause_by` takes an action class, instance or string and
    defaults to `UserRequirement`; `send_to` takes a name, a set or list of names, or a role
    class, and defaults to everyone (`MESSAGE_ROUTE_TO_ALL`).
    """

    model_config = ConfigDict(validate_assignment=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    content: str = ""
    instruct_content: BaseModel | None = None
    """The structured output of the action that produced this message, when it has one."""
    role: str = "user"
    """Who speaks: `user`, `system`, `assistant`, or a role's profile (e.g. `Product Manager`)."""
    cause_by: str = Field("", validate_default=True)
    """`any_to_str` of the action that produced the message."""
    sent_from: str = ""
    send_to: set[str] = Field(default_factory=lambda: Recipients({MESSAGE_ROUTE_TO_ALL}))
    """Names (or profiles, or role classes) of the recipients; `<all>` means every role."""

    def __init__(self, content: str = "", /, **data: Any):
        data.setdefault("content", content)
        super().__init__(**data)

    @field_validator("cause_by", mode="before")
    @classmethod
    def _cause_by(cls, value: Any) -> str:
        return any_to_str(value) if value else USER_REQUIREMENT_ROUTE

    @field_validator("sent_from", mode="before")
    @classmethod
    def _sent_from(cls, value: Any) -> str:
        return any_to_str(value) if value else ""

    @field_validator("send_to", mode="before")
    @classmethod
    def _send_to(cls, value: Any) -> set[str]:
        return any_to_str_set(value) if value else {MESSAGE_ROUTE_TO_ALL}

    @field_validator("cause_by", "send_to", mode="after")
    @classmethod
    def _compare_like_metagpt(cls, value: Any) -> Any:
        return RouteKey(value) if isinstance(value, str) else Recipients(value)

    def is_for(self, addresses: set[str]) -> bool:
        """Whether one of `addresses` (a role's name, profile, class) is among the recipients."""
        return MESSAGE_ROUTE_TO_ALL in self.send_to or not self.send_to.isdisjoint(addresses)

    def to_dict(self) -> dict[str, str]:
        """The chat form `{"role": ..., "content": ...}`."""
        return {"role": self.role, "content": self.content}

    def dump(self) -> str:
        """The message as JSON (without its structured content's class)."""
        return self.model_dump_json(exclude={"instruct_content"})

    @classmethod
    def load(cls, text: str) -> Message:
        return cls.model_validate_json(text)

    def __str__(self) -> str:
        return f"{self.role}: {self.content}"

    __repr__ = __str__


class UserMessage(Message):
    """A message from the user (`role="user"`)."""

    def __init__(self, content: str = "", /, **data: Any):
        super().__init__(content, **{"role": "user", **data})


class SystemMessage(Message):
    """A system instruction (`role="system"`)."""

    def __init__(self, content: str = "", /, **data: Any):
        super().__init__(content, **{"role": "system", **data})


class AIMessage(Message):
    """A model's answer (`role="assistant"`)."""

    def __init__(self, content: str = "", /, **data: Any):
        super().__init__(content, **{"role": "assistant", **data})
