"""What a model call is for (its action and target file), as the journal records it.

Set by whoever knows (an action while it asks, the Engineer while it writes one file) and read
by `LLM.request`; a context variable, so concurrent tasks each keep their own.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class CallScope:
    action: str = ""
    target: str = ""


_NONE = CallScope()
_scope: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar("call_scope", default=None)


def current_scope() -> CallScope:
    return _scope.get() or _NONE


@contextmanager
def call_scope(action: str | None = None, target: str | None = None) -> Iterator[None]:
    """Within this block, model calls are journaled under `action` and `target` (when given)."""
    changes = {k: v for k, v in (("action", action), ("target", target)) if v is not None}
    token = _scope.set(replace(current_scope(), **changes))
    try:
        yield
    finally:
        _scope.reset(token)
