"""`SubscriptionRunner`: run a role whenever a trigger yields a message, and hand each answer on.

As in MetaGPT 0.4+:

    async def trigger():
        while True:
            yield Message("the latest news about OpenAI")
            await asyncio.sleep(3600 * 24)

    runner = SubscriptionRunner()
    await runner.subscribe(Searcher(), trigger(), callback)
    await runner.run()

One difference: `run` returns once every trigger has ended (MetaGPT kept polling forever); a
trigger that never ends keeps it running, as there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from loguru import logger

from metagpt.roles.role import Role
from metagpt.schema import Message


class SubscriptionRunner:
    """Subscribed roles, each with the task that feeds it its trigger's messages."""

    def __init__(self) -> None:
        self.tasks: dict[Role, asyncio.Task] = {}

    async def subscribe(
        self,
        role: Role,
        trigger: AsyncIterator[Message],
        callback: Callable[[Message | None], Awaitable[Any]],
    ) -> None:
        """Start running `role` on each message `trigger` yields; `callback` gets each answer."""

        async def feed() -> None:
            async for message in trigger:
                await callback(await role.run(message))

        self.tasks[role] = asyncio.get_running_loop().create_task(feed(), name=f"Subscription-{role}")

    async def unsubscribe(self, role: Role) -> None:
        """Stop feeding `role` (its current run is cancelled)."""
        task = self.tasks.pop(role)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def run(self, raise_exception: bool = True) -> None:
        """Wait on the subscriptions until all have ended.

        A subscription whose role, trigger or callback fails raises its error here
        (`raise_exception`, the default) and stays subscribed, so a later `run` reports it again
        (or `unsubscribe` drops it); the other subscriptions keep running. With
        `raise_exception=False` the failure is logged ("run error"), the subscription dropped, and
        the runner keeps serving the others.
        """
        while self.tasks:
            done, _ = await asyncio.wait(self.tasks.values(), return_when=asyncio.FIRST_COMPLETED)
            for role, task in [(r, t) for r, t in self.tasks.items() if t in done]:
                error = None if task.cancelled() else task.exception()
                if error is not None and raise_exception:
                    raise error
                self.tasks.pop(role)
                if error is not None:
                    logger.opt(exception=error).error(f"Task {task.get_name()} run error; the others go on")
                elif not task.cancelled():
                    logger.warning(f"Task {task.get_name()} has completed: its trigger ended.")
