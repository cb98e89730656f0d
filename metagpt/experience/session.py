"""`ExperienceSession`: how one company (or interpreter, or agent) reads and writes the pool.

Handed to the roles through `Context.experience`, which is None unless `EXP_POOL_ENABLED` is
on, so with the pool off no code path changes. Reading (`EXP_POOL_READ`):

- `reuse(step, messages)`: the stored result of an exact repeat (same step, same model family,
  the same redacted inputs), so the step makes no model call; the step's check still runs. A
  step no check will run on (named in `no_check`: a company without QA) is never reused: it
  makes its call. (An agent's check is part of its prompt, so a run without one never repeats a
  confirmed step.)
- `examples(query)`: the top-k (2) closest confirmed experiences and lessons, as a prompt section
  marked as examples, for a step that is not an exact repeat.

Writing (`EXP_POOL_WRITE`): `propose` notes a step's key while it runs; only `confirm` (called
by whoever ran the external check, after it passed) or `record`/`lesson` (for a check that has
just held) store anything. Only records whose MAC holds are read (`trust`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger

from metagpt.experience.pool import ExperiencePool
from metagpt.experience.records import EXAMPLES_MARKER, Cost, Experience, lesson_key, step_key
from metagpt.experience.trust import skipped_line

TOP_K = 2


@dataclass
class Pending:
    """A step that ran and now waits for its check."""

    key: str
    step: str
    task: str
    target: str
    reused: bool = False


class ExperienceSession:
    """One run's view of the pool.

    Args:
        pool: the workspace's pool.
        read: reuse exact repeats and show examples.
        write: store what a check confirmed.
        family: the model family, asked for when first needed (creating the provider then).
    """

    def __init__(self, pool: ExperiencePool, read: bool, write: bool, family: Callable[[], str], k: int = TOP_K):
        self.pool, self.read, self.write, self.k = pool, read, write, k
        self._family_of = family
        self._family: str | None = None
        self.pending: dict[str, Pending] = {}
        """Steps of this run by target (a code file), waiting for the check."""
        self.used: Counter[str] = Counter()
        self.reused = 0
        """Steps answered from the pool in this run (no model call)."""
        self.shown = 0
        """Examples shown in prompts in this run."""
        self.stored = 0
        """Records written in this run."""
        self.written: list[Experience] = []
        """The records this run stored, as built (before a merge with earlier ones)."""
        self.no_check: dict[str, str] = {}
        """Steps no check will run on in this run, with why: they are never reused."""
        self._said: set[str] = set()
        self._snapshot: list[Experience] | None = None

    @property
    def family(self) -> str:
        if self._family is None:
            self._family = self._family_of()
        return self._family

    def snapshot(self) -> list[Experience]:
        """The pool's records as this run first read them (read once: a run reads what earlier runs stored)."""
        if self._snapshot is None:
            self._snapshot = self.pool.records()
            pool = self.pool
            if pool.skipped:
                logger.warning(skipped_line(pool.skipped, pool.unsigned, f"the experience pool {pool.path}"))
        return self._snapshot

    def key(self, step: str, messages: list[dict[str, str]]) -> str:
        return step_key(step, self.family, messages)

    # -- reading --------------------------------------------------------------------------------

    def reuse(self, step: str, messages: list[dict[str, str]]) -> Experience | None:
        """The confirmed result of this exact step with this model family, or None (also when reading is off)."""
        if not self.read:
            return None
        if step in self.no_check:
            if step not in self._said:
                self._said.add(step)
                logger.info(f"experience pool: {step} steps are not reused in this run: {self.no_check[step]}")
            return None
        key = self.key(step, messages)
        record = next((r for r in self.snapshot() if r.key == key and r.kind == "step" and r.result), None)
        if record is None or record.family != self.family:
            return None
        self.used[key] += 1
        self.reused += 1
        logger.info(f"experience pool: {step} answered from a confirmed run ({record.source}), no model call")
        return record

    def examples(self, query: str, step: str = "") -> str:
        """The prompt section of the `k` closest experiences and lessons (of `step`), or "" (reading off, none).

        A lesson that matches the query at all takes one of the `k` places: a fixed failure is what
        the published gains (Reflexion, ChatDev's co-learning) come from.
        """
        if not self.read:
            return ""
        ranked = [r for r in self.pool.search(query, self.k * 8, self.snapshot()) if not step or r.step == step]
        lesson = next((r for r in ranked if r.kind == "lesson"), None)
        found = ([lesson] if lesson else []) + [r for r in ranked if r is not lesson]
        found = sorted(found[: self.k], key=ranked.index)  # a matching lesson always takes one place
        if not found:
            return ""
        for record in found:
            self.used[record.key] += 1
        self.shown += len(found)
        body = "\n\n".join(r.as_example() for r in found)
        return f"{EXAMPLES_MARKER}{body}\n"

    # -- writing --------------------------------------------------------------------------------

    def propose(self, step: str, messages: list[dict[str, str]], task: str, target: str, reused: bool = False) -> None:
        """Note that `target` was produced by this step; stored only if `confirm` names it later."""
        if self.write:
            self.pending[target] = Pending(self.key(step, messages), step, task, target, reused)

    def confirm(self, results: dict[str, tuple[str, Cost]], outcome: str, source: str) -> int:
        """The check passed: store each pending target's final result with what it cost. Returns how many."""
        if not self.write:
            return 0
        stored = 0
        for target, (result, cost) in results.items():
            pending = self.pending.get(target)
            if pending is None:
                continue
            record = Experience(
                key=pending.key, step=pending.step, family=self.family, task=pending.task, result=result,
                outcome=outcome, cost=cost, source=source,
            )  # fmt: skip
            self.pool.add(record)
            self.written.append(record)
            stored += 1
        self.pending.clear()
        self.stored += stored
        return stored

    def record(self, step: str, messages: list[dict[str, str]], task: str, result: str, outcome: str,
               cost: Cost, source: str) -> None:  # fmt: skip
        """Store a step whose check has just held (an interpreter cell that ran)."""
        if self.write:
            key = self.key(step, messages)
            self._store(Experience(key=key, step=step, family=self.family, task=task, result=result,
                                   outcome=outcome, cost=cost, source=source))  # fmt: skip

    def lesson(self, step: str, task: str, error: str, fix: str, outcome: str, source: str) -> None:
        """Store a failure that a later attempt fixed, as confirmed by the check that then passed."""
        if self.write:
            key = lesson_key(step, error, fix)
            self._store(Experience(key=key, kind="lesson", step=step, family=self.family, task=task,
                                   error=error, fix=fix, outcome=outcome, source=source))  # fmt: skip

    def _store(self, record: Experience) -> None:
        self.pool.add(record)
        self.written.append(record)
        self.stored += 1

    def flush(self) -> None:
        """Count the uses of this run in the pool (for eviction); called once when the run ends."""
        if self.used:
            self.pool.touch(dict(self.used))
            self.used.clear()
