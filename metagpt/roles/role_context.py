"""What a role knows while it runs (`role.rc`), how it reacts, and where it publishes.

`Role` (roles/role.py) holds one `RoleContext`; `metagpt.roles.role` exports these names too,
where MetaGPT's users import them from.
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol

from metagpt.actions.action import Action
from metagpt.memory import Memory
from metagpt.schema import Message


class MessageBus(Protocol):
    """Where a role publishes its messages: an `Environment` (typed here so roles need not import it)."""

    def publish_message(self, message: Message, peekable: bool = True) -> bool: ...


class RoleReactMode(str, Enum):
    """How a role answers its news: the model picks, every action in order, or a plan."""

    REACT = "react"
    BY_ORDER = "by_order"
    PLAN_AND_ACT = "plan_and_act"

    @classmethod
    def values(cls) -> list[str]:
        return [mode.value for mode in cls]


class RoleContext:
    """What a role knows while it runs (`role.rc`)."""

    def __init__(self) -> None:
        self.env: MessageBus | None = None
        self.msg_buffer: list[Message] = []
        """Messages delivered to the role and not yet observed."""
        self.memory = Memory()
        self.working_memory = Memory()
        self.news: list[Message] = []
        """What the last `_observe` found to react to."""
        self.todo: Action | None = None
        self.state: int = -1
        """Index of `todo` in the role's actions; -1 when there is nothing to do."""
        self.watch: set[str] = set()
        """Routing keys of the actions whose messages wake the role."""
        self.react_mode = RoleReactMode.REACT
        self.max_react_loop = 1

    @property
    def important_memory(self) -> list[Message]:
        """The remembered messages caused by watched actions."""
        return self.memory.get_by_actions(self.watch)

    @property
    def history(self) -> list[Message]:
        return self.memory.get()
