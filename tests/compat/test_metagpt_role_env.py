"""MetaGPT 0.6-0.8's own tests of role addresses, recovery, the environment and the runner, in their shape."""

from __future__ import annotations

import asyncio
from unittest.mock import AsyncMock

import pytest

from metagpt.actions import Action, UserRequirement, WriteDesign, WritePRD
from metagpt.actions.action_output import ActionOutput
from metagpt.context import Context
from metagpt.environment import Environment
from metagpt.roles import Architect, ProductManager, Role
from metagpt.schema import Message, UserMessage
from metagpt.subscription import SubscriptionRunner
from metagpt.utils.common import any_to_name, any_to_str

MOCK_ROLE = "tests.compat.test_metagpt_role_env.MockRole"


class MockAction(Action):
    name: str = "mock_action"

    async def run(self, messages, *args, **kwargs):
        assert messages
        return ActionOutput(content=messages[-1].content, instruct_content=messages[-1].instruct_content)


class OtherAction(MockAction):
    name: str = "other_action"


class MockRole(Role):
    def __init__(self, name="", profile="", goal="", constraints="", desc=""):
        super().__init__(name=name, profile=profile, goal=goal, constraints=constraints, desc=desc)
        self.set_actions([MockAction()])


def test_basic_addresses_are_the_class_path_and_the_name():
    mock_role = MockRole()
    assert mock_role.addresses == {MOCK_ROLE}
    assert mock_role.rc.watch == {"metagpt.actions.add_requirement.UserRequirement"}
    assert MockRole(name="mock_role").addresses == {MOCK_ROLE, "mock_role"}
    assert ProductManager().addresses == {any_to_str(ProductManager), ProductManager().name}


async def test_the_environment_routes_by_the_addresses_it_holds(fake_config):
    env = Environment(context=Context(fake_config))
    role = MockRole(name="A", profile="Tester")
    env.add_role(role)
    assert env.get_addresses(role) == env.get_subscription(role) == {MOCK_ROLE, "A"}
    assert env.get_addresses(MockRole()) == set()  # not in this environment

    role.set_addresses({"start"})
    assert env.get_addresses(role) == {"start"}
    env.publish_message(Message(content="to someone else", send_to="elsewhere"))
    assert role.rc.msg_buffer == []
    env.publish_message(Message(content="test", send_to="start"))
    assert not role.is_idle
    while not env.is_idle:
        await env.run()
    assert role.is_idle and role.get_memories()[-1].cause_by == MockAction

    env.set_addresses(role, ["tag"])
    assert env.get_addresses(role) == {"tag"}
    assert env.publish_message(Message(content="x", send_to="tag")) and role.rc.msg_buffer[-1].content == "x"


def test_a_role_is_still_reached_by_its_profile(fake_config):
    env = Environment(context=Context(fake_config))
    role = MockRole(name="Alex", profile="Engineer")
    env.add_role(role)
    assert "Engineer" not in role.addresses
    env.publish_message(Message(content="fix it", send_to="Engineer"))
    assert [m.content for m in role.rc.msg_buffer] == ["fix it"]


def test_get_roles_is_keyed_by_name(fake_config):
    env = Environment(context=Context(fake_config))
    alice = Role(name="Alice", profile="product manager")
    bob = Role(name="Bob", profile="engineer")
    env.add_roles([alice, bob])
    assert env.get_roles() == {"Alice": alice, "Bob": bob}  # MetaGPT 0.7+ (0.6 keyed by profile)
    assert env.get_role("engineer") is bob  # a profile still finds the role


async def test_recover():
    mock_llm = AsyncMock()
    mock_llm.aask.side_effect = ["1"]

    role = Role()
    assert role.is_watch(any_to_str(UserRequirement))
    role.put_message(None)
    role.publish_message(None)
    assert role.rc.msg_buffer == []

    role.llm = mock_llm
    role.set_actions([MockAction, MockAction])
    role.recovered = True
    role.latest_observed_msg = Message(content="recover_test")
    role.rc.state = 0
    assert role.action_description == any_to_name(MockAction)

    rsp = await role.run()
    assert rsp.cause_by == any_to_str(MockAction) and rsp.content == "recover_test"
    mock_llm.aask.assert_not_called()  # resumed at its state, without asking which action is next
    assert role.recovered is False


async def test_a_recovered_role_resumes_at_its_action_on_the_message_it_watched(fake_config):
    context = Context(fake_config)
    role = Role(name="R", actions=[MockAction, OtherAction], watch=[WritePRD], recovered=True, context=context)
    assert role.recovered and role.latest_observed_msg is None
    role.latest_observed_msg = Message(content="the PRD", cause_by=WritePRD)
    role.rc.state = 1

    rsp = await role.run()

    assert rsp.cause_by == OtherAction and rsp.content == "the PRD"
    assert role.latest_observed_msg.cause_by == any_to_str(WritePRD)
    assert [m.content for m in role.get_memories()] == ["the PRD", "the PRD"]
    assert await role.run() is None  # nothing new: the recovered message is not observed twice


async def test_publish_and_process_message(fake_config):
    env = Environment(context=Context(fake_config))
    if env.context.git_repo:
        env.context.git_repo.delete_repository()
        env.context.git_repo = None
    product_manager = ProductManager(name="Alice", profile="Product Manager", goal="做AI Native产品")
    architect = Architect(name="Bob", profile="Architect", goal="设计一个可用、高效、较低成本的系统")
    env.add_roles([product_manager, architect])

    requirement = "需要一个基于LLM做总结的搜索引擎"
    env.publish_message(UserMessage(content=requirement, cause_by=UserRequirement, send_to=product_manager))
    await env.run(k=1)
    assert [m.cause_by for m in env.history.storage] == [UserRequirement, WritePRD] and not env.is_idle
    await env.run(k=1)

    # One message per step of the chain, as in MetaGPT: the requirement, the PRD, the design.
    assert [(m.cause_by, m.sent_from) for m in env.history.storage] == [
        (UserRequirement, ""),
        (WritePRD, "Alice"),
        (WriteDesign, "Bob"),
    ]
    assert env.is_idle
    assert len(str(env.history)) > 10  # 0.6-0.7's `len(env.history)` measured this transcript
    assert "Bob" not in env.history.storage[0].send_to


async def test_subscription_run_error(loguru_caplog):
    class MockRole1(Role):
        async def run(self, message=None):
            raise RuntimeError

    class MockRole2(Role):
        async def run(self, message=None):
            return Message(content="test")

    async def trigger1():
        yield Message(content="the latest news about OpenAI")

    async def trigger2():
        yield Message(content="the latest news about OpenAI")

    async def callback(msg: Message):
        print(msg)

    runner = SubscriptionRunner()
    await runner.subscribe(MockRole1(), trigger1(), callback)
    with pytest.raises(RuntimeError):
        await runner.run()

    await runner.subscribe(MockRole2(), trigger2(), callback)
    task = asyncio.get_running_loop().create_task(runner.run(False))

    for _ in range(10):
        if not runner.tasks:
            break
        await asyncio.sleep(0)
    else:
        raise TimeoutError("wait runner tasks empty timeout")

    task.cancel()
    for i in runner.tasks.values():
        i.cancel()
    assert len(loguru_caplog.records) >= 2
    logs = "".join(loguru_caplog.messages)
    assert "run error" in logs
    assert "has completed" in logs


async def test_the_runner_logs_each_failing_subscription_and_serves_the_others(loguru_caplog):
    served: list[str] = []

    class Broken(Role):
        async def run(self, message=None):
            raise RuntimeError(f"{self.name} broke")

    class Echo(Role):
        async def run(self, message=None):
            return Message(content=f"echo {message.content}")

    async def trigger(*topics: str):
        for topic in topics:
            yield Message(content=topic)
            await asyncio.sleep(0)

    async def callback(msg: Message):
        served.append(msg.content)

    runner = SubscriptionRunner()
    await runner.subscribe(Broken(name="first"), trigger("a"), callback)
    await runner.subscribe(Broken(name="second"), trigger("b"), callback)
    await runner.subscribe(Echo(), trigger("x", "y", "z"), callback)
    await asyncio.wait_for(runner.run(raise_exception=False), timeout=10)

    assert served == ["echo x", "echo y", "echo z"] and runner.tasks == {}
    errors = [r for r in loguru_caplog.records if r.levelname == "ERROR"]
    assert len(errors) >= 2 and all("run error" in r.getMessage() for r in errors)
    assert "first broke" in loguru_caplog.text and "second broke" in loguru_caplog.text
