"""Memory, message routing through the Environment, and cancellation of concurrent roles."""

from __future__ import annotations

import asyncio

import pytest

from metagpt.actions import Action, UserRequirement, WriteCode, WriteDesign, WritePRD, WriteTasks
from metagpt.context import Context
from metagpt.environment import Environment
from metagpt.memory import Memory
from metagpt.provider.fake import FakeProvider
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager, Role
from metagpt.schema import Message, any_to_str
from metagpt.utils.concurrency import gather_or_cancel


class Echo(Action):
    async def run(self, text: str) -> str:
        return f"echo: {text}"


class Listener(Role):
    """Watches `Echo` messages and answers with its own `Echo`."""

    def __init__(self, name: str, watch: list, **kwargs):
        super().__init__(name=name, **kwargs)
        self._init_actions([Echo])
        self._watch(watch)


def msg(cause_by: object = "", content: str = "hi", **kwargs) -> Message:
    return Message(content=content, cause_by=any_to_str(cause_by) if cause_by else "", role="Human", **kwargs)


# -- Memory -------------------------------------------------------------------------------------


def test_memory_stores_each_message_once():
    memory = Memory()
    first, second = msg(WritePRD, "prd"), msg(WriteDesign, "design")

    memory.add(first)
    memory.add(first)
    memory.add_batch([second, first, Message(id=first.id, content="same id, other text")])

    assert memory.get() == [first, second]
    assert memory.count() == 2


def test_memory_get_last_k():
    memory = Memory()
    messages = [msg(content=str(i)) for i in range(5)]
    memory.add_batch(messages)

    assert memory.get(2) == messages[3:]
    assert memory.get(0) == messages
    assert memory.get(10) == messages


def test_memory_get_by_action_accepts_class_instance_and_key():
    memory = Memory()
    prd1, design, prd2 = msg(WritePRD, "p1"), msg(WriteDesign, "d"), msg(WritePRD, "p2")
    memory.add_batch([prd1, design, prd2])

    assert memory.get_by_action(WritePRD) == [prd1, prd2]
    assert memory.get_by_action(WritePRD()) == [prd1, prd2]
    assert memory.get_by_action(any_to_str(WriteDesign)) == [design]
    assert memory.get_by_action(WriteTasks) == []
    assert memory.get_by_actions([WriteDesign, WritePRD]) == [prd1, design, prd2]


def test_memory_clear():
    memory = Memory()
    message = msg(WritePRD)
    memory.add(message)

    memory.clear()
    memory.add(message)

    assert memory.get_by_action(WritePRD) == [message]


def test_routing_keys_are_derived_from_classes():
    assert any_to_str(WritePRD) == "metagpt.actions.write_prd.WritePRD"
    assert any_to_str(WritePRD()) == any_to_str(WritePRD)
    assert any_to_str("custom") == "custom"


# -- routing ------------------------------------------------------------------------------------


def company_env(fake_config) -> tuple[Environment, dict[str, Role]]:
    context = Context(fake_config, provider=FakeProvider([]))
    roles = {r.profile: r for r in (ProductManager(), Architect(), ProjectManager(), Engineer())}
    env = Environment()
    for role in roles.values():
        role.set_context(context)
    env.add_roles(roles.values())
    return env, roles


@pytest.mark.parametrize(
    ("cause_by", "receiver"),
    [
        (UserRequirement, "Product Manager"),
        (WritePRD, "Architect"),
        (WriteDesign, "Project Manager"),
        (WriteTasks, "Engineer"),
        (WriteCode, None),
    ],
)
def test_broadcast_reaches_everyone_but_wakes_only_the_watchers(fake_config, cause_by, receiver):
    env, roles = company_env(fake_config)
    message = msg(cause_by)

    env.publish_message(message)

    assert all(r.rc.msg_buffer == [message] for r in roles.values())
    assert {p for p, r in roles.items() if not r.is_idle} == ({receiver} if receiver else set())
    assert env.history.get() == [message]


async def test_observed_broadcast_is_remembered_but_only_watched_news_is_acted_on(fake_config):
    env, roles = company_env(fake_config)
    prd, code = msg(WritePRD, "prd"), msg(WriteCode, "code")
    env.publish_message(prd)
    env.publish_message(code)
    architect = roles["Architect"]

    assert await architect._observe() == 1

    assert architect.rc.news == [prd]
    assert architect.get_memories() == [prd, code]  # MetaGPT roles remember what they hear
    assert architect.rc.msg_buffer == []


@pytest.mark.parametrize("address", ["Bob", "Architect", any_to_str(Architect)])
def test_send_to_delivers_only_to_the_named_role(fake_config, address):
    env, roles = company_env(fake_config)
    message = msg(UserRequirement, send_to={address})  # the Product Manager watches this cause

    env.publish_message(message)

    assert {p: len(r.rc.msg_buffer) for p, r in roles.items()} == {
        "Product Manager": 0,
        "Architect": 1,
        "Project Manager": 0,
        "Engineer": 0,
    }
    assert not roles["Architect"].is_idle  # named recipients react whatever they watch


def test_message_defaults_to_the_users_requirement_for_everyone(fake_config):
    env, roles = company_env(fake_config)

    env.publish_message(Message("hello?"))

    assert {p for p, r in roles.items() if not r.is_idle} == {"Product Manager"}
    assert env.history.count() == 1


def test_message_to_nobody_is_recorded_and_reported(fake_config):
    env, roles = company_env(fake_config)

    assert env.publish_message(Message("lost", send_to="Zed")) is False

    assert all(r.rc.msg_buffer == [] for r in roles.values())
    assert env.history.count() == 1


def test_republished_message_is_kept_once_in_history(fake_config):
    env, _ = company_env(fake_config)
    message = msg(WritePRD)

    env.publish_message(message)
    env.publish_message(message)

    assert env.history.get() == [message]


async def test_environment_runs_roles_until_idle(fake_config):
    context = Context(fake_config, provider=FakeProvider([]))
    first = Listener("first", [UserRequirement], context=context)
    second = Listener("second", [Echo], context=context)
    bystander = Listener("bystander", [WriteTasks], context=context)
    env = Environment()
    env.add_roles([first, second, bystander])
    assert env.is_idle

    env.publish_message(msg(UserRequirement, "start"))
    assert not env.is_idle
    assert (first.is_idle, second.is_idle, bystander.is_idle) == (False, True, True)

    rounds = 0
    while not env.is_idle and rounds < 5:
        await env.run()
        rounds += 1

    assert env.is_idle
    assert rounds == 2
    assert [(m.sent_from, m.content) for m in env.history.get()] == [
        ("", "start"),
        ("first", "echo: [Human: start]"),  # goes to second only: first does not watch Echo
        ("second", "echo: [Human: start, first: echo: [Human: start]]"),  # second's own is no news to it
    ]
    assert [m.content for m in first.get_memories()] == ["start", "echo: [Human: start]"]
    assert len(second.get_memories()) == 3
    assert bystander.get_memories() == []  # never woke: nothing it watches was said


async def test_role_does_not_react_to_what_it_already_remembers(fake_config):
    role = Listener("self", [Echo], context=Context(fake_config, provider=FakeProvider([])))
    env = Environment()
    env.add_role(role)
    mine = Message("mine", cause_by=Echo, sent_from="self")
    role.rc.memory.add(mine)

    env.publish_message(mine)

    assert await role.run() is None
    assert role.get_memories() == [mine]


# -- gather_or_cancel ---------------------------------------------------------------------------


async def test_gather_or_cancel_returns_results_in_order():
    async def value(v: int, delay: float) -> int:
        await asyncio.sleep(delay)
        return v

    assert await gather_or_cancel([value(1, 0.02), value(2, 0), value(3, 0.01)]) == [1, 2, 3]
    assert await gather_or_cancel([]) == []


async def test_gather_or_cancel_cancels_the_others_when_one_fails():
    observed: list[str] = []
    finished: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
            finished.append("slow")
        except asyncio.CancelledError:
            observed.append("cancelled")
            raise

    async def fast() -> str:
        return "fast"

    async def failing() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("role failed")

    with pytest.raises(RuntimeError, match=r"^role failed$"):
        await asyncio.wait_for(gather_or_cancel([slow(), fast(), failing()]), timeout=2)

    assert observed == ["cancelled"]
    assert finished == []


async def test_cancelling_gather_or_cancel_cancels_its_tasks():
    observed: list[str] = []
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            observed.append("cancelled")
            raise

    outer = asyncio.ensure_future(gather_or_cancel([slow()]))
    await started.wait()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    await asyncio.sleep(0.01)

    assert observed == ["cancelled"]
