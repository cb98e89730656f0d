"""The experience pool in a real company run: scripted model, real files, real pytest in the sandbox.

Two-file calculator from the QA loop's script: the Engineer writes `calc.py` and `main.py`, QA
writes and runs a test, a failure goes back to the Engineer. What the pool stores and reuses is
decided by those test runs only.
"""

from __future__ import annotations

from metagpt.config import Config
from metagpt.context import Context
from metagpt.experience import ExperiencePool
from metagpt.provider.base import ModelRequest
from metagpt.provider.fake import FakeProvider
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager, QaEngineer
from metagpt.software_company import SoftwareCompany
from tests.calculator import BROKEN_TEST, BUGGY, FIXED, TEST, scripted


def run_company(tmp_path, code_versions, project: str, logic: str = "add()", test: str = TEST, **settings):
    config = Config(api_type="fake", workspace_path=tmp_path / "ws", test_round_allowed=2, **settings)
    provider = FakeProvider([scripted(code_versions, logic, test, test_prompt="tests/test_calc.py")] * 30)
    team = SoftwareCompany(context=Context(config, provider=provider))
    team.hire([ProductManager(), Architect(), ProjectManager(), Engineer(), QaEngineer()])
    team.start_project("a calculator", project_name=project)
    return team, provider


def code_calls(provider: FakeProvider, filename: str) -> list[ModelRequest]:
    return [c for c in provider.calls if f"write the complete code of `{filename}`" in c.messages[-1]["content"]]


def pool_of(tmp_path) -> ExperiencePool:
    return ExperiencePool.of_workspace(tmp_path / "ws")


async def run(team) -> None:
    await team.run(n_round=15)


async def test_code_is_stored_only_after_the_tests_passed(tmp_path):
    team, _ = run_company(tmp_path, [FIXED], "p1", exp_pool_enabled=True)
    await run(team)
    assert team.qa_report.passed
    records = {r.task.splitlines()[0]: r for r in pool_of(tmp_path).records() if r.kind == "step"}
    assert set(records) == {"Write calc.py", "Write main.py"}
    calc = records["Write calc.py"]
    assert calc.result == "def add(a: int, b: int) -> int:\n    return a + b\n"
    assert calc.outcome == "QA 1 passed" and calc.family == "fake"
    assert calc.cost.calls == 1 and calc.cost.tokens > 0
    assert calc.source.startswith("p1 run ")


async def test_a_run_whose_tests_failed_stores_nothing(tmp_path):
    # the bug is never fixed: two failing rounds, then QA gives up
    team, _ = run_company(tmp_path, [BUGGY, BUGGY], "p1", exp_pool_enabled=True)
    await run(team)
    assert not team.qa_report.passed
    assert pool_of(tmp_path).records() == []


async def test_an_exact_repeat_makes_no_call_for_the_step_and_still_passes(tmp_path):
    first, _ = run_company(tmp_path, [FIXED], "p1", exp_pool_enabled=True)
    await run(first)
    # a second project on the same inputs: calc.py's answer would be a bug, but no call is made for it
    second, provider = run_company(tmp_path, [BUGGY], "p2", exp_pool_enabled=True)
    await run(second)
    assert code_calls(provider, "calc.py") == [] and code_calls(provider, "main.py") == []
    assert second.context.experience.reused == 2
    assert second.qa_report.passed and second.qa_report.runs[-1].passed == 1  # the check still ran
    assert (second.project.path / "calc_app/calc.py").read_text().endswith("return a + b\n")
    calc = next(r for r in pool_of(tmp_path).records() if r.task.startswith("Write calc.py"))
    assert calc.uses == 1 and calc.confirmations == 2 and calc.cost.calls == 1


async def test_a_changed_input_makes_the_call(tmp_path):
    first, _ = run_company(tmp_path, [FIXED], "p1", exp_pool_enabled=True)
    await run(first)
    second, provider = run_company(tmp_path, [FIXED], "p2", logic="add() of two ints", exp_pool_enabled=True)
    await run(second)
    assert len(code_calls(provider, "calc.py")) == 1 and len(code_calls(provider, "main.py")) == 1
    assert second.context.experience.reused == 0


async def test_reading_off_makes_exactly_the_calls_of_a_run_without_the_pool(tmp_path):
    seed, _ = run_company(tmp_path, [FIXED], "seed", exp_pool_enabled=True)
    await run(seed)
    baseline, without = run_company(tmp_path, [BUGGY, FIXED], "base")
    await run(baseline)
    written, with_pool = run_company(tmp_path, [BUGGY, FIXED], "off", exp_pool_enabled=True, exp_pool_read=False)
    await run(written)
    assert len(with_pool.calls) == len(without.calls) > 0
    assert [c.messages for c in with_pool.calls] == [c.messages for c in without.calls]


async def test_a_failed_then_fixed_test_becomes_a_lesson_shown_in_the_next_similar_prompt(tmp_path):
    first, _ = run_company(tmp_path, [BUGGY, FIXED], "p1", exp_pool_enabled=True)
    await run(first)
    lessons = [r for r in pool_of(tmp_path).records() if r.kind == "lesson"]
    assert len(lessons) == 1
    assert "assert -1 == 5" in lessons[0].error and lessons[0].fix.endswith("return a + b\n")
    second, provider = run_company(tmp_path, [FIXED], "p2", logic="add() of two numbers", exp_pool_enabled=True)
    await run(second)
    (call,) = code_calls(provider, "calc.py")
    prompt = call.messages[-1]["content"]
    assert "# Examples from earlier runs that passed their checks" in prompt
    assert "## Lesson (QA 1 passed)" in prompt and "assert -1 == 5" in prompt


async def test_a_canary_secret_in_the_config_never_reaches_the_pool(tmp_path):
    canary = "mgcanary-51c0ffee9d2e4a7b"
    leaky = FIXED.replace("def add", f"TOKEN = {canary!r}\n\n\ndef add")
    team, _ = run_company(tmp_path, [leaky], "p1", exp_pool_enabled=True, openai_api_key=canary)
    await run(team)
    assert team.qa_report.passed
    text = pool_of(tmp_path).path.read_text()
    assert "Write calc.py" in text and "TOKEN = '***'" in text
    assert canary not in text


async def test_rebuild_from_the_signed_evidence_gives_back_the_same_steps_and_the_lesson(tmp_path):
    from metagpt.experience.rebuild import Rebuilt, rebuild

    first, _ = run_company(tmp_path, [BUGGY, FIXED], "p1", exp_pool_enabled=True)
    await run(first)
    failed, _ = run_company(tmp_path, [BUGGY, BUGGY], "p2")  # its tests never pass: not used
    await run(failed)
    pool = pool_of(tmp_path)
    live = {r.key: r for r in pool.records()}
    assert pool.remove() == 3
    assert rebuild(pool, tmp_path / "ws") == Rebuilt(projects=1, records=3)  # p2 claims no pass: not skipped
    rebuilt = {r.key: r for r in pool.records() if r.kind == "step"}
    assert set(rebuilt) == {k for k, r in live.items() if r.kind == "step"}
    assert all(rebuilt[k].result == live[k].result and rebuilt[k].cost.calls == 1 for k in rebuilt)
    (lesson,) = [r for r in pool.records() if r.kind == "lesson"]
    assert "assert -1 == 5" in lesson.error and lesson.fix.endswith("return a + b\n")


async def test_a_reused_file_the_tests_then_fail_on_is_removed_from_the_pool(tmp_path):
    first, _ = run_company(tmp_path, [FIXED], "p1", exp_pool_enabled=True)
    await run(first)
    # same inputs, so calc.py is reused; but this run's test wants add(2, 3) == 6 and the fixes never get there
    second, _ = run_company(tmp_path, [BUGGY, BUGGY], "p2", test=BROKEN_TEST, exp_pool_enabled=True)
    await run(second)
    assert second.context.experience.reused == 2 and not second.qa_report.passed
    assert all(run.file_to_fix == "calc_app/calc.py" for run in second.qa_report.runs)
    left = [r.task.splitlines()[0] for r in pool_of(tmp_path).records()]
    assert left == ["Write main.py"]
