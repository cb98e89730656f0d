"""The plan_and_act react mode: a plan limited to the role's actions, tasks in turn, re-planning."""

from __future__ import annotations

import json

from metagpt.actions import Action
from metagpt.context import Context
from metagpt.exceptions import ModelBehaviorError
from metagpt.provider.base import ModelRequest
from metagpt.provider.fake import FakeProvider
from metagpt.roles import Role, RoleReactMode
from metagpt.roles.planner import Task, TaskResult


class Search(Action):
    """Look facts up."""

    async def run(self, text: str) -> str:
        return f"found: {text.rsplit('Your task now: ', 1)[-1]}"


class Write(Action):
    """Write the answer."""

    async def run(self, text: str) -> str:
        if "fail" in text.rsplit("Your task now: ", 1)[-1]:
            raise ModelBehaviorError("the model kept answering in the wrong shape")
        return f"wrote: {text.rsplit('Your task now: ', 1)[-1]}"


class Researcher(Role):
    name: str = "Rita"
    profile: str = "Researcher"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.set_actions([Search, Write])
        self._set_react_mode(RoleReactMode.PLAN_AND_ACT, max_react_loop=2)


def plan(*tasks: tuple[str, str]) -> str:
    return json.dumps(
        {"tasks": [{"task_id": str(i), "instruction": text, "action": act} for i, (act, text) in enumerate(tasks, 1)]}
    )


def researcher(fake_config, answers: list) -> tuple[Researcher, FakeProvider]:
    provider = FakeProvider(answers)
    return Researcher(context=Context(fake_config, provider=provider)), provider


async def test_plan_then_run_each_task_with_its_action(fake_config):
    role, provider = researcher(fake_config, [plan(("Search", "tides"), ("Write", "a summary"))])

    result = await role.run("explain tides")

    assert result.content == "wrote: a summary"
    assert result.cause_by == Write
    provider.assert_complete()
    (request,) = provider.calls
    schema = request.output_schema.json_schema
    task_schema = schema["$defs"]["PlannedTask"]["properties"]["action"]
    assert task_schema["enum"] == ["Search", "Write"]  # the model can only name real actions
    assert "explain tides" in request.messages[-1]["content"]
    assert "- Search: Look facts up." in request.messages[-1]["content"]
    assert [m.content for m in role.get_memories()] == ["explain tides", "found: tides", "wrote: a summary"]


async def test_a_failed_task_makes_the_model_replan_with_the_error(fake_config):
    def replan(request: ModelRequest) -> str:
        prompt = request.messages[-1]["content"]
        assert "# Finished tasks\n- 1 (Search): tides -> found: tides" in prompt
        assert "# Failed task\n- 2 (Write): fail once" in prompt
        assert "error: the model kept answering in the wrong shape" in prompt
        return plan(("Write", "a careful summary"))

    role, provider = researcher(fake_config, [plan(("Search", "tides"), ("Write", "fail once")), replan])

    result = await role.run("explain tides")

    assert result.content == "wrote: a careful summary"
    provider.assert_complete()


async def test_replanning_is_bounded_and_ends_with_the_failure(fake_config):
    always_fails = plan(("Write", "fail again"))
    role, provider = researcher(fake_config, [always_fails, always_fails, always_fails])

    result = await role.run("explain tides")

    assert result.content.startswith("Task 1 (fail again) failed after 2 re-plans:")
    provider.assert_complete()  # one plan and two re-plans (max_react_loop=2), no more


async def test_act_on_task_can_be_overridden_and_report_failure(fake_config):
    class Checker(Researcher):
        async def _act_on_task(self, task: Task) -> TaskResult:
            return TaskResult(result=f"checked {task.instruction}", is_success=task.instruction != "bad")

    provider = FakeProvider([plan(("Search", "bad")), plan(("Search", "good"))])
    role = Checker(context=Context(fake_config, provider=provider))

    result = await role.run("check things")

    assert result.content == "checked good"
    provider.assert_complete()
