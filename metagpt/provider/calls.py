"""What every provider over HTTP does the same way around a request: the whole-request deadline,
the `Retry-After` headers, and a brief quote of what a server sent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from metagpt.exceptions import ProviderError
from metagpt.utils.paths import clean_text

T = TypeVar("T")


def deadline_after(timeout: float) -> float:
    """The event loop's time at which a request started now must be answered whole."""
    return asyncio.get_running_loop().time() + timeout


def timed_out(where: str, timeout: float, hint: str = "") -> ProviderError:
    """The retryable, billable error of a request that outlived `TIMEOUT` (the server may have billed it)."""
    return ProviderError(
        f"{where} timed out: no complete answer within TIMEOUT={timeout:g}s; raise TIMEOUT if the model is slow{hint}.",
        retryable=True,
        billable=True,
    )


async def before(deadline: float, step: Awaitable[T], where: str, timeout: float, hint: str = "") -> T:
    """Await `step`, or raise `timed_out` once the request's `deadline` (`deadline_after`) has passed."""
    remaining = deadline - asyncio.get_running_loop().time()
    try:
        return await asyncio.wait_for(step, timeout=max(remaining, 0.001))
    except asyncio.TimeoutError:
        raise timed_out(where, timeout, hint) from None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, else `retry-after` (in seconds); None when neither is a number."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                return None
    return None


def brief(value: Any, limit: int = 80) -> str:
    """A short, printable, one-line excerpt of an unexpected answer or of a server's message."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = clean_text(str(value), keep_newlines=False).strip()
    return text[:limit] + ("..." if len(text) > limit else "")
