"""A role's memory: the messages it has seen, indexed by the action that caused them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from metagpt.schema import Message, any_to_str


class Memory:
    """Ordered messages with an index by `cause_by`; a message (by id) is stored once."""

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

    def __contains__(self, message: object) -> bool:
        return isinstance(message, Message) and message.id in self._ids

    def get(self, k: int = 0) -> list[Message]:
        """The last `k` messages; all of them when `k` is 0."""
        return self.storage[-k:] if k else list(self.storage)

    def get_by_role(self, role: str) -> list[Message]:
        return [message for message in self.storage if message.role == role]

    def get_by_content(self, content: str) -> list[Message]:
        return [message for message in self.storage if content in message.content]

    def get_by_action(self, action: object) -> list[Message]:
        return list(self.index.get(any_to_str(action), []))

    def get_by_actions(self, actions: Iterable[object]) -> list[Message]:
        keys = {any_to_str(action) for action in actions}
        return [message for message in self.storage if message.cause_by in keys]

    def find_news(self, observed: list[Message], k: int = 0) -> list[Message]:
        """The messages of `observed` not among the last `k` remembered (all when `k` is 0)."""
        known = {message.id for message in self.get(k)}
        return [message for message in observed if message.id not in known]

    def try_remember(self, keyword: str) -> list[Message]:
        return self.get_by_content(keyword)

    def delete(self, message: Message) -> None:
        if message.id not in self._ids:
            return
        self._ids.discard(message.id)
        self.storage = [m for m in self.storage if m.id != message.id]
        self.index[message.cause_by] = [m for m in self.index[message.cause_by] if m.id != message.id]

    def delete_newest(self) -> Message | None:
        if not self.storage:
            return None
        newest = self.storage[-1]
        self.delete(newest)
        return newest

    def count(self) -> int:
        return len(self.storage)

    def __len__(self) -> int:
        return len(self.storage)

    def __str__(self) -> str:
        """The messages one a line (`role: content`): MetaGPT 0.6-0.7's debug transcript."""
        return "\n".join(str(message) for message in self.storage)

    def clear(self) -> None:
        self.storage.clear()
        self.index.clear()
        self._ids.clear()
