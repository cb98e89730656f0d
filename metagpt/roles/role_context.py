"""What a role knows while it runs (`role.rc`), how it reacts, where it publishes, and the scope
it works in (`working_scope`).

`Role` (roles/role.py) holds one `RoleContext`; `metagpt.roles.role` exports these names too,
where MetaGPT's users import them from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from metagpt.actions.action import Action, current_llm
from metagpt.memory import Memory
from metagpt.schema import Message

if TYPE_CHECKING:
    from metagpt.context import Context
    from metagpt.llm import LLM


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


@contextmanager
def working_scope(llm: LLM, context: Context | None) -> Iterator[None]:
    """While a role works: actions made on the fly ask its model (`current_llm`), and its context
    is current (`Context.as_current`: MetaGPT 0.6's `CONFIG.git_repo`), also when the role runs
    on its own, outside a team's run."""
    token = current_llm.set(llm)
    try:
        with context.as_current() if context is not None else nullcontext():
            yield
    finally:
        current_llm.reset(token)
