"""What the experience pool keeps: confirmed steps and lessons, keyed by exact inputs and model family.

A record is written only once an external check the parent process ran confirmed it (QA's tests
passed, an interpreter cell ran, an agent's `--check` held), never on the model's opinion of its
own work, and it carries a MAC under this user's key (`trust`). Every text a
record holds passes `redact` before it is stored, so no configured secret reaches the pool.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from metagpt.logs import redact

MAX_TEXT = 20_000
"""Characters of a result, fix or task text a record keeps; a longer result is not stored at all."""
EXAMPLES_MARKER = "\n\n# Examples from earlier runs that passed their checks (for reference only)\n"
"""Where the examples shown in a prompt start; the exact-repeat key is taken from the prompt before it."""

_DATE_SUFFIX = re.compile(r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4}|@[\w.-]+|:latest|-latest)$")


def model_family(model: str) -> str:
    """The model's family: the name without a provider prefix or a dated snapshot suffix.

    `gpt-4o-mini-2024-07-18` and `openai/gpt-4o-mini` are both `gpt-4o-mini`: a snapshot of the
    same model answers the same inputs alike enough to reuse what passed a check.
    """
    name = model.strip().lower().rsplit("/", 1)[-1]
    for _ in range(3):  # bounded: at most three suffixes stripped
        stripped = _DATE_SUFFIX.sub("", name)
        if stripped == name:
            break
        name = stripped
    return name or "unknown"


def prompt_inputs(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The messages as they decide a step, without the examples section a pool may have added."""
    return [{"role": m["role"], "content": str(m["content"]).split(EXAMPLES_MARKER, 1)[0]} for m in messages]


def step_key(step: str, family: str, messages: list[dict[str, str]]) -> str:
    """A stable hash of the step's kind, the model family and its exact (redacted) inputs."""
    canonical = json.dumps([step, family, prompt_inputs(messages)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(redact(canonical).encode("utf-8")).hexdigest()


def lesson_key(step: str, error: str, fix: str) -> str:
    canonical = json.dumps(["lesson", step, _normalise(error), fix], ensure_ascii=False)
    return hashlib.sha256(redact(canonical).encode("utf-8")).hexdigest()


def _normalise(error: str) -> str:
    """An error without the parts that change from run to run (paths, addresses, line numbers)."""
    error = re.sub(r"/[^\s:'\"]*/", "/", error)
    error = re.sub(r"0x[0-9a-f]+", "0x", error)
    return re.sub(r"line \d+", "line N", error)


def code_task(filename: str, tasks: str) -> str:
    """The words the pool indexes a code step by: the file and the task list it belongs to."""
    return f"Write {filename}\n{tasks[:2000]}"


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n... (cut)\n"


class Cost(BaseModel):
    """What producing a result took: model calls, tokens, dollars, seconds."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dollars: float = 0.0
    seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def between(cls, before: Any, after: Any, seconds: float) -> Cost:
        """What was spent from `before` to `after`, two copies of a cost manager's `total` record."""
        return cls(
            calls=after.calls - before.calls,
            prompt_tokens=after.prompt_tokens - before.prompt_tokens,
            completion_tokens=after.completion_tokens - before.completion_tokens,
            dollars=after.cost - before.cost,
            seconds=seconds,
        )


class Experience(BaseModel):
    """One confirmed step (`kind="step"`) or one lesson from a failure that was then fixed."""

    key: str
    kind: Literal["step", "lesson"] = "step"
    step: str
    """What kind of work: `write_code`, `di_task`, `agent_run`."""
    family: str = ""
    """The model family that produced it (an exact repeat needs the same one)."""
    task: str
    """What the step was asked to do, in words: the text the BM25 index searches."""
    result: str = ""
    """The code (or plan, or answer) that passed the check."""
    error: str = ""
    """Lessons: the failure the check reported."""
    fix: str = ""
    """Lessons: what made the check pass afterwards."""
    outcome: str = ""
    """The check that confirmed it, in words (`QA: 3 passed, 0 failed`)."""
    cost: Cost = Field(default_factory=Cost)
    source: str = ""
    """The run it came from: project folder and run id."""
    created: float = Field(default_factory=time.time)
    last_used: float = 0.0
    uses: int = 0
    """Times it was reused (exact repeat) or shown as an example."""
    confirmations: int = 1
    """Times a check confirmed it (a repeat that passed again adds one)."""
    mac: str = ""
    """HMAC-SHA256 of every other field under this user's key (`trust`): a record without a
    matching one is never used."""

    def redacted(self) -> Experience:
        """This record with every text passed through `redact` and cut to `MAX_TEXT`."""
        texts = {f: clip(redact(getattr(self, f))) for f in ("task", "result", "error", "fix", "outcome", "source")}
        return self.model_copy(update=texts)

    @property
    def value(self) -> float:
        """What keeping it is worth: what it saves per reuse (dollars, else calls), times its confirmations."""
        saved = self.cost.dollars or self.cost.calls * 1e-4 or 1e-6
        return saved * self.confirmations

    def as_example(self) -> str:
        """The record as shown in a prompt."""
        if self.kind == "lesson":
            head = f"## Lesson ({self.outcome})\nTask: {self.task[:400]}\n"
            return f"{head}Error:\n{self.error[:800]}\nFix:\n{self.fix[:1500]}"
        return f"## Example ({self.outcome})\nTask: {self.task[:400]}\nResult:\n{self.result[:1500]}"
