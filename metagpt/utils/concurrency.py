"""Running awaitables together so that one failure stops all of them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any

SIBLING_FAILED = "a task run beside this one failed"
"""The message of a cancellation caused by a sibling's failure (not by the run being stopped):
a model call so cancelled waits briefly for its answer, so that what the server bills is charged."""


async def gather_or_cancel(awaitables: Iterable[Awaitable[Any]]) -> list[Any]:
    """Run concurrently; on the first error cancel the rest and raise that error.

    Unlike `asyncio.gather`, nothing keeps working (and spending) after another has failed, and
    no task outlives the call, also when the caller is cancelled.
    """
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    if not tasks:
        return []
    reason: str | None = SIBLING_FAILED
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except BaseException:
        reason = None  # the caller was stopped
        raise
    finally:
        pending = [t for t in tasks if not t.done()]
        for task in pending:
            task.cancel(reason)
        await asyncio.gather(*pending, return_exceptions=True)
    errors = [error for t in tasks if not t.cancelled() and (error := t.exception()) is not None]
    if errors:
        raise errors[0]
    return [t.result() for t in tasks]
