"""The Engineer's plan and its pipeline: writes in dependency order, each review as soon as it can start."""

from __future__ import annotations

import asyncio

import pytest

from metagpt.utils.code_plan import CodePlan, write_and_review

FILES = {
    "config.py": "Settings",
    "models.py": "Task dataclass",
    "storage.py": "stores Task objects, uses models and config",
    "service.py": "business rules, uses storage",
    "main.py": "entry point",
}


def plan() -> CodePlan:
    return CodePlan.from_tasks(list(FILES), FILES)


class Clock:
    """Steps that each take one tick of a virtual clock; records when each started and ended."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str]] = []
        self.running = 0
        self.peak = 0

    def step(self, kind: str):
        async def run(name: str) -> None:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.log.append(("start", kind, name))
            await asyncio.sleep(0.02)
            self.log.append(("end", kind, name))
            self.running -= 1

        return run

    def index(self, event: str, kind: str, name: str) -> int:
        return self.log.index((event, kind, name))


def test_the_plan_and_its_pipeline_depth():
    p = plan()
    assert p.depends_on["storage.py"] == ["config.py", "models.py"]
    assert p.depends_on["main.py"] == ["config.py", "models.py", "storage.py", "service.py"]
    assert p.write_order() == list(FILES)
    assert p.critical_path() == 4  # models -> storage -> service -> main
    assert p.pipeline_calls({}) == 5  # ... then main's review
    # a review that waits for the reviews of what it imports can lengthen the chain
    assert p.pipeline_calls({name: p.depends_on[name] for name in FILES}) == 5
    chain = CodePlan(files=["a.py", "b.py", "c.py"], depends_on={"a.py": [], "b.py": [], "c.py": []})
    assert chain.pipeline_calls({"b.py": ["a.py"], "c.py": ["b.py"]}) == 4  # write a, review a, b, c


async def test_a_review_starts_while_later_files_are_still_being_written():
    clock = Clock()
    p = plan()

    await write_and_review(p, clock.step("write"), clock.step("review"), lambda name: [], concurrency=4)

    for name in FILES:
        assert clock.index("end", "write", name) < clock.index("start", "review", name)
    # config's review ran while storage (which needs config and models) was being written
    assert clock.index("start", "review", "config.py") < clock.index("end", "write", "storage.py")
    assert clock.index("start", "review", "storage.py") < clock.index("end", "write", "main.py")
    assert clock.peak <= 4


async def test_a_review_waits_for_the_final_code_of_the_files_it_imports():
    clock = Clock()
    p = plan()
    imports = {"storage.py": ["models.py"], "service.py": ["storage.py"], "main.py": ["service.py"]}

    await write_and_review(
        p, clock.step("write"), clock.step("review"), lambda name: imports.get(name, []), concurrency=4
    )

    for name, used in imports.items():
        for dependency in used:
            assert clock.index("end", "review", dependency) < clock.index("start", "review", name)


async def test_an_import_cycle_does_not_deadlock_the_reviews():
    clock = Clock()
    p = CodePlan(files=["a.py", "b.py"], depends_on={"a.py": [], "b.py": ["a.py"]})
    imports = {"a.py": ["b.py"], "b.py": ["a.py"]}  # the model made them import each other

    await asyncio.wait_for(
        write_and_review(p, clock.step("write"), clock.step("review"), imports.__getitem__, concurrency=2), 5
    )

    assert clock.index("end", "review", "a.py") < clock.index("start", "review", "b.py")  # b's uses a's final code
    assert clock.index("end", "write", "b.py") < clock.index("start", "review", "a.py")  # a's waits for b written


async def test_one_at_a_time_and_writes_first_when_slots_are_short():
    clock = Clock()
    committed: list[int] = []

    async def after_writes() -> None:
        committed.append(len([e for e in clock.log if e[0] == "end" and e[1] == "write"]))

    await write_and_review(
        plan(), clock.step("write"), clock.step("review"), lambda name: [], concurrency=1, after_writes=after_writes
    )

    assert clock.peak == 1
    assert committed == [5]  # after every write, once
    starts = [(kind, name) for event, kind, name in clock.log if event == "start"]
    assert starts[:2] == [("write", "config.py"), ("write", "models.py")]  # writes unblock the most work


async def test_the_first_failure_cancels_the_rest_and_is_raised():
    started: list[str] = []
    cancelled: list[str] = []

    async def write(name: str) -> None:
        started.append(name)
        if name == "models.py":
            raise RuntimeError("budget exhausted")
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    with pytest.raises(RuntimeError, match="budget exhausted"):
        await write_and_review(plan(), write, None, lambda name: [], concurrency=4)

    assert "storage.py" not in started  # it needs models.py
    assert cancelled == ["config.py"]
