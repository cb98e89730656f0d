"""`Environment`: where roles publish messages and run, round by round."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable

from metagpt.memory import Memory
from metagpt.roles.role import Role
from metagpt.schema import Message


class Environment:
    """Holds the roles and the shared history; delivers each message to the roles it is for."""

    def __init__(self) -> None:
        self.roles: dict[str, Role] = {}
        self.history = Memory()

    def add_role(self, role: Role) -> None:
        role.set_env(self)
        self.roles[role.name] = role

    def add_roles(self, roles: Iterable[Role]) -> None:
        for role in roles:
            self.add_role(role)

    def publish_message(self, message: Message) -> None:
        """Record `message` and put it in the inbox of every role watching it."""
        self.history.add(message)
        for role in self.roles.values():
            if role.is_watching(message):
                role.put_message(message)

    async def run(self, k: int = 1) -> None:
        """Run `k` rounds; in each, every role observes and acts concurrently."""
        for _ in range(k):
            await gather_or_cancel(role.run() for role in self.roles.values())

    @property
    def is_idle(self) -> bool:
        return all(role.is_idle for role in self.roles.values())


async def gather_or_cancel(awaitables: Iterable[Awaitable]) -> list:
    """Run concurrently; on the first error cancel the rest and raise that error.

    Unlike `asyncio.gather`, no role keeps working (and spending) after another has failed.
    """
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    if not tasks:
        return []
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:  # also when the caller is cancelled: no task may outlive this call
        pending = [t for t in tasks if not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    failed = [t for t in tasks if not t.cancelled() and t.exception() is not None]
    if failed:
        raise failed[0].exception()
    return [t.result() for t in tasks]
