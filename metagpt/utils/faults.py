"""Crash points for fault-injection tests: the process kills itself at the k-th pass of a point.

`METAGPT_CRASH_AT=POINT:K` (for example `after_answer:3`) makes the K-th call of
`crash_point(POINT)` send SIGKILL to the process itself, as an out-of-memory kill or a power cut
would: no `finally`, no flush, no exit handler. Without the variable a crash point costs one
dictionary look-up. The points:

- `before_request`: the journal row is committed, the request not yet sent;
- `after_answer`: the answer arrived, it is not yet in the journal;
- `after_journal`: the answer is in the journal, not yet returned to the caller;
- `file`: half of a project file is in its temporary file;
- `git`: `git add` staged the stage's files, `git commit` has not run (a killed git leaves its lock).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV_VAR = "METAGPT_CRASH_AT"
POINTS = ("before_request", "after_answer", "after_journal", "file", "git")

_passes: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL if `METAGPT_CRASH_AT` names this pass of `name`."""
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _passes[name] += 1
    if str(_passes[name]) == nth.strip():
        os.kill(os.getpid(), signal.SIGKILL)
