"""The experience pool in the agent: steps of a run whose `--check` passed, reused or shown as examples."""

from __future__ import annotations

from metagpt.experience import ExperiencePool
from metagpt.roles.di.role_zero import RoleZero, StopReason
from tests.agent.conftest import answer, make_context, workspace  # noqa: F401  (fixture)

ON = {"exp_pool_enabled": True}
WRITE = answer(("Editor.write", {"path": "out.txt", "content": "42"}))
FINISH = answer(("finish", {"reason": "out.txt holds 42"}))


async def agent_run(workspace, answers, check="file:out.txt:42", name="p", **settings):  # noqa: F811
    context, provider = make_context(workspace, answers, **settings)
    agent = RoleZero(context=context, max_steps=4, check=check)
    from metagpt.project_repo import ProjectRepo

    context.project = ProjectRepo(workspace, name, fixed=True)
    await agent.run("put 42 in out.txt")
    return agent, provider


async def test_the_steps_of_a_run_whose_check_passed_are_reused_and_the_check_runs_again(workspace):  # noqa: F811
    first, _ = await agent_run(workspace, [WRITE, FINISH], **ON)
    assert first.outcome.stop_reason is StopReason.FINISHED and first.outcome.check_passed
    steps = ExperiencePool.of_workspace(workspace).records()
    assert [r.result for r in steps] == [WRITE, FINISH] and all(r.cost.calls == 1 for r in steps)

    second, provider = await agent_run(workspace, [], name="q", **ON)
    assert provider.calls == [] and second.outcome.calls == 0
    assert second.outcome.stop_reason is StopReason.FINISHED and second.outcome.check_passed
    assert (second.project.path / "out.txt").read_text() == "42"  # the commands really ran


async def test_a_run_whose_check_failed_stores_nothing(workspace):  # noqa: F811
    agent, _ = await agent_run(workspace, [WRITE, FINISH] + [FINISH] * 2, check="file:out.txt:43", **ON)
    assert agent.outcome.check_passed is False
    assert ExperiencePool.of_workspace(workspace).records() == []


async def test_a_run_without_a_check_stores_nothing(workspace):  # noqa: F811
    agent, _ = await agent_run(workspace, [WRITE, FINISH], check=None, **ON)
    assert agent.outcome.stop_reason is StopReason.FINISHED
    assert ExperiencePool.of_workspace(workspace).records() == []


async def test_a_run_without_a_check_is_never_answered_from_the_pool(workspace):  # noqa: F811
    await agent_run(workspace, [WRITE, FINISH], name="seed", **ON)
    # the check is part of every step's prompt, so a run without one never repeats a confirmed step
    agent, provider = await agent_run(workspace, [WRITE, FINISH], check=None, name="q", **ON)
    assert len(provider.calls) == 2 and agent.outcome.calls == 2  # both steps asked of the model
    assert agent.context.experience.reused == 0


async def test_reading_off_sends_the_same_requests_as_no_pool(workspace):  # noqa: F811
    await agent_run(workspace, [WRITE, FINISH], name="seed", **ON)
    _, without = await agent_run(workspace, [WRITE, FINISH], name="a")
    _, reading_off = await agent_run(workspace, [WRITE, FINISH], name="b", exp_pool_enabled=True, exp_pool_read=False)
    assert [c.messages for c in reading_off.calls] == [c.messages for c in without.calls]
    assert len(without.calls) == 2


async def test_a_failed_check_then_fixed_becomes_a_lesson_in_the_next_prompt(workspace):  # noqa: F811
    early = answer(("finish", {"reason": "surely done"}))
    await agent_run(workspace, [early, WRITE, FINISH], **ON)
    (lesson,) = [r for r in ExperiencePool.of_workspace(workspace).records() if r.kind == "lesson"]
    assert "out.txt: missing" in lesson.error
    context, provider = make_context(workspace, [WRITE, FINISH], **ON)
    agent = RoleZero(context=context, max_steps=4, check="file:out.txt:42")
    await agent.run("put 42 in the file out.txt please")
    prompt = provider.calls[0].messages[-1]["content"]
    assert "## Lesson" in prompt and "out.txt: missing" in prompt
