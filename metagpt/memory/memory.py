"""A role's memory: the messages it has seen, indexed by the action that caused them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from metagpt.schema import Message, any_to_str


class Memory:
    """Ordered messages with an index by `cause_by`; duplicates (same id) are stored once."""

    def __init__(self) -> None:
        self.storage: list[Message] = []
        self.index: dict[str, list[Message]] = defaultdict(list)
        self._ids: set[str] = set()

    def add(self, message: Message) -> None:
        if message.id in self._ids:
            return
        self._ids.add(message.id)
        self.storage.append(message)
        self.index[message.cause_by].append(message)

    def add_batch(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self.add(message)

    def get(self, k: int = 0) -> list[Message]:
        """The last `k` messages; all of them when `k` is 0."""
        return self.storage[-k:] if k else list(self.storage)

    def get_by_action(self, action: object) -> list[Message]:
        return list(self.index.get(any_to_str(action), []))

    def get_by_actions(self, actions: Iterable[object]) -> list[Message]:
        keys = {any_to_str(action) for action in actions}
        return [message for message in self.storage if message.cause_by in keys]

    def count(self) -> int:
        return len(self.storage)

    def clear(self) -> None:
        self.storage.clear()
        self.index.clear()
        self._ids.clear()
