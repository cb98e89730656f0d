"""The experience pool in the interpreter: real sandboxed kernel, scripted model."""

from __future__ import annotations

from metagpt.experience import ExperiencePool
from metagpt.roles import DataInterpreter
from metagpt.roles.di.data_interpreter import StopReason
from tests.interpreter.conftest import code, make_context, plan, workspace  # noqa: F401  (fixture)

ON = {"exp_pool_enabled": True}


def cell_calls(provider) -> list:
    return [c for c in provider.calls if c.output_schema is None]


async def test_a_cell_that_ran_is_reused_on_an_exact_repeat_and_the_kernel_still_runs_it(workspace):  # noqa: F811
    answers = [plan(("1", [], "load the numbers"), ("2", ["1"], "print the total")),
               code("numbers = [1, 2, 3]\nprint(numbers)"), code("print('total', sum(numbers))")]  # fmt: skip
    context, _ = make_context(workspace, answers, **ON)
    first = DataInterpreter(context=context)
    assert (await first.run("Add up the numbers")).content == "total 6"
    records = ExperiencePool.of_workspace(workspace).records()
    assert [r.result for r in records] == ["numbers = [1, 2, 3]\nprint(numbers)", "print('total', sum(numbers))"]
    assert all(r.cost.calls == 1 and r.outcome == "the cell ran without an error" for r in records)

    context, provider = make_context(workspace, [answers[0]], **ON)  # only the plan is scripted
    second = DataInterpreter(context=context)
    message = await second.run("Add up the numbers")
    provider.assert_complete()
    assert cell_calls(provider) == [] and second.outcome.code_calls == 0
    assert second.outcome.stop_reason is StopReason.DONE and message.content == "total 6"  # really ran
    assert context.experience.reused == 2


async def test_with_the_pool_off_the_interpreter_makes_the_same_calls(workspace):  # noqa: F811
    answers = [plan(("1", [], "compute a ratio")), code("ratio = 1 / 4\nprint(ratio)")]
    context, _ = make_context(workspace, list(answers), **ON)
    await DataInterpreter(context=context).run("compute a ratio")
    context, without = make_context(workspace, list(answers))
    await DataInterpreter(context=context).run("compute a ratio")
    context, reading_off = make_context(workspace, list(answers), exp_pool_enabled=True, exp_pool_read=False)
    await DataInterpreter(context=context).run("compute a ratio")
    assert [c.messages for c in reading_off.calls] == [c.messages for c in without.calls]
    assert len(without.calls) == 2


async def test_a_fixed_cell_becomes_a_lesson_shown_to_the_next_similar_task(workspace):  # noqa: F811
    answers = [plan(("1", [], "compute a ratio")), code("ratio = 1 / 0"), code("ratio = 1 / 4\nprint(ratio)")]
    context, _ = make_context(workspace, answers, **ON)
    await DataInterpreter(context=context).run("compute a ratio")
    (lesson,) = [r for r in ExperiencePool.of_workspace(workspace).records() if r.kind == "lesson"]
    assert "ZeroDivisionError" in lesson.error and lesson.fix == "ratio = 1 / 4\nprint(ratio)"

    answers = [plan(("1", [], "compute a ratio of two sums")), code("print(3 / 4)")]
    context, provider = make_context(workspace, answers, **ON)
    await DataInterpreter(context=context).run("compute a ratio of two sums")
    prompt = cell_calls(provider)[0].messages[-1]["content"]
    assert "# Examples from earlier runs that passed their checks" in prompt
    assert "ZeroDivisionError" in prompt and "ratio = 1 / 4" in prompt
