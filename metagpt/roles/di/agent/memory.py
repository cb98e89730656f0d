"""The agent's steps and its memory of them: the last K steps verbatim, older ones summarised.

A step leaving the verbatim window is summarised once, into one line of the running summary
(its commands and how each ended). The whole memory is kept under `AGENT_MEMORY_TOKENS`: the
verbatim steps take at most `RECENT_SHARE` of it (older ones move into the summary early, long
outputs are cut shorter), the summary the rest, its oldest lines dropped first (their count is
kept). The goal and the plan are not part of the memory: the prompt always shows them whole.
"""

from __future__ import annotations

from collections import deque

from pydantic import BaseModel, Field

from metagpt.roles.di.agent.commands import CommandCall
from metagpt.utils.token_counter import count_text_tokens, text_token_bound

ARGS_CHARS = 600
"""Characters of a command's arguments shown in a verbatim step (file contents are long)."""
OUTPUT_CHARS = 3000
"""Characters of an observation shown in a verbatim step."""
SUMMARY_CHARS = 240
"""Characters of a step's summary line."""
RECENT_SHARE = 0.7
"""Share of the memory cap the verbatim steps may take; the summary has the rest."""
CUT_STEPS = (OUTPUT_CHARS, 1500, 800, 400, 200, 100)
"""Ever shorter cuts of arguments and outputs, tried until the verbatim steps fit their share."""


class Observation(BaseModel):
    """What one command gave: its output, or why it failed."""

    command: CommandCall
    ok: bool
    output: str


class StepRecord(BaseModel):
    """One step of the agent: what it thought and asked, what happened; a line of `steps.jsonl`."""

    step: int
    thought: str = ""
    commands: list[CommandCall] = Field(default_factory=list)
    observations: list[Observation] = Field(default_factory=list)
    parse_error: str = ""
    """Set when the answer could not be used; the raw answer is in `answer`."""
    answer: str = ""
    check: dict | None = None
    """The goal check run in this step (after `finish`): command, passed, output."""
    notes: list[str] = Field(default_factory=list)
    """What the loop told the agent after this step (a nudge, a human's guidance)."""
    calls: int = 0
    dollars: float = 0.0

    @property
    def failed(self) -> Observation | None:
        """The command that failed (and stopped the list), if one did."""
        return next((o for o in self.observations if not o.ok), None)

    def signature(self) -> str:
        """Commands and observations as one comparable text (stuck detection)."""
        if self.parse_error:
            return f"unparseable: {self.parse_error}"
        return "\n".join(f"{o.command.signature()} => {o.ok} {o.output}" for o in self.observations)

    def verbatim(self, output_chars: int = OUTPUT_CHARS) -> str:
        """The step as the prompt shows it; arguments and outputs cut to `output_chars` at most."""
        args_chars = min(ARGS_CHARS, output_chars)
        lines = [f"### Step {self.step}"]
        if self.parse_error:
            lines.append(f"Your answer could not be used: {_cut(self.parse_error, output_chars)}")
            lines.append(f"It was: {_cut(self.answer, args_chars)}")
        if self.thought:
            lines.append(f"Thought: {_cut(self.thought, args_chars)}")
        for o in self.observations:
            lines.append(f"- {_cut(o.command.signature(), args_chars)}")
            lines.append(f"  {'ok' if o.ok else 'FAILED'}: {_cut(o.output, output_chars)}")
        skipped = len(self.commands) - len(self.observations)
        if skipped > 0:
            lines.append(f"- ({skipped} later command(s) not run: an earlier one failed or the run ended)")
        if self.check is not None:
            lines.append(f"Goal check {'passed' if self.check['passed'] else 'FAILED'}: "
                         f"{_cut(self.check['output'], output_chars)}")  # fmt: skip
        lines += self.notes
        return "\n".join(lines)

    def summary(self) -> str:
        if self.parse_error:
            text = f"step {self.step}: unusable answer ({self.parse_error})"
        else:
            parts = []
            for o in self.observations:
                head = o.command.command_name + _brief_args(o.command)
                first = o.output.strip().splitlines()[0] if o.output.strip() else ""
                parts.append(f"{head} {'ok' if o.ok else 'failed: ' + first}")
            text = f"step {self.step}: " + ("; ".join(parts) or "no command")
        if self.check is not None:
            text += f"; goal check {'passed' if self.check['passed'] else 'failed'}"
        return _cut(" ".join(text.split()), SUMMARY_CHARS)


def _brief_args(command: CommandCall) -> str:
    items = [f"{k}={str(v)[:40]!r}" for k, v in command.args.items() if k not in ("content", "code", "new", "old")]
    return f"({', '.join(items)})"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f" [... {len(text) - limit} more characters]"


class AgentMemory:
    """The steps the prompt shows: `recent` verbatim, then one summary line for each older one.

    Args:
        recent: how many of the last steps are shown verbatim (K).
        max_tokens: the cap on the whole memory text (`AGENT_MEMORY_TOKENS`).
        model: the model whose tokenizer counts.
    """

    def __init__(self, recent: int, max_tokens: int, model: str = "gpt-4o"):
        self.recent = max(1, recent)
        self.max_tokens = max_tokens
        self.model = model
        self.window: deque[StepRecord] = deque()
        self.summary: list[str] = []
        self.dropped = 0
        """Summary lines dropped to stay under the cap."""

    def add(self, step: StepRecord) -> None:
        self.window.append(step)
        while len(self.window) > self.recent:
            self.summary.append(self.window.popleft().summary())

    def text(self) -> str:
        """The memory under the token cap (see the module docstring for what gives way first).

        The latest steps get up to `RECENT_SHARE` of the cap: older ones leave the window first,
        then the kept steps' long arguments and outputs are cut shorter. The summary fills the
        rest, its oldest lines dropped first.
        """
        share = int(self.max_tokens * RECENT_SHARE)
        while len(self.window) > 1 and self.tokens(self._recent(OUTPUT_CHARS)) > share:
            self.summary.append(self.window.popleft().summary())
        limit = next((n for n in CUT_STEPS if self.tokens(self._recent(n)) <= share), CUT_STEPS[-1])
        while self.summary and self.tokens(self._render(limit)) > self.max_tokens:
            self.summary.pop(0)
            self.dropped += 1
        text = self._render(limit)
        return text if self.tokens(text) <= self.max_tokens else self._cut_to_cap(text)

    def tokens(self, text: str) -> int:
        """The tokens of `text`: its UTF-8 length when that is within every limit here (the
        shortest is `max_tokens * RECENT_SHARE`), counted exactly only when it may not be."""
        bound = text_token_bound(text)
        return bound if bound <= int(self.max_tokens * RECENT_SHARE) else count_text_tokens(text, self.model)

    def _recent(self, output_chars: int) -> str:
        return "\n".join(step.verbatim(output_chars) for step in self.window)

    def _render(self, output_chars: int = OUTPUT_CHARS) -> str:
        if not self.window and not self.summary:
            return "(nothing yet: this is the first step)"
        parts = []
        if self.summary or self.dropped:
            parts.append("## Earlier steps, summarised")
            if self.dropped:
                parts.append(f"({self.dropped} earliest step(s) left out)")
            parts += self.summary
        if self.window:
            parts.append("## Latest steps")
            parts.append(self._recent(output_chars))
        return "\n".join(parts)

    def _cut_to_cap(self, text: str) -> str:
        marker = "\n[... cut to fit the memory limit]"
        low, high = 0, len(text)
        while low < high:  # the longest head that fits with the marker
            middle = (low + high + 1) // 2
            if self.tokens(text[:middle] + marker) <= self.max_tokens:
                low = middle
            else:
                high = middle - 1
        return text[:low] + marker
