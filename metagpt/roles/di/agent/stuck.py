"""Stuck detection: the loop patterns after which another step would be money for nothing.

Three patterns, checked after every step over the steps since the last nudge:

* the same commands with the same observations, `SAME_STEPS` steps in a row;
* the same failing command, `SAME_FAILURES` steps in a row (whatever its output);
* an alternation A-B-A-B-A-B of two different steps over the last `ALTERNATION` steps.

The first time one matches, the agent is nudged; the loop decides what happens the next time.
"""

from __future__ import annotations

from metagpt.roles.di.agent.memory import StepRecord

SAME_STEPS = 4
SAME_FAILURES = 3
ALTERNATION = 6
NUDGE = "You are repeating yourself; do something different."


class StuckDetector:
    """Watches the steps and names the pattern when the agent goes round in circles."""

    def __init__(self) -> None:
        self.steps: list[StepRecord] = []
        self.nudged = False

    def add(self, step: StepRecord) -> str | None:
        """Record a step; returns the pattern it completes, or None."""
        self.steps.append(step)
        self.steps = self.steps[-ALTERNATION:]
        return self.pattern()

    def pattern(self) -> str | None:
        steps = self.steps
        signatures = [s.signature() for s in steps]
        if len(steps) >= SAME_STEPS and len(set(signatures[-SAME_STEPS:])) == 1:
            return f"the same commands and observations {SAME_STEPS} times in a row"
        failures = [s.failed for s in steps[-SAME_FAILURES:]]
        same = len({f.command.signature() for f in failures if f}) == 1
        if len(failures) == SAME_FAILURES and all(failures) and same:
            return f"the same failing command {SAME_FAILURES} times in a row"
        if len(steps) >= ALTERNATION:
            a, b = signatures[-ALTERNATION], signatures[-ALTERNATION + 1]
            if a != b and all(sig == (a, b)[i % 2] for i, sig in enumerate(signatures[-ALTERNATION:])):
                return f"an alternation of two steps over the last {ALTERNATION} steps"
        return None

    def reset(self) -> None:
        """Forget the steps seen so far (after a nudge or a human's guidance)."""
        self.steps = []
