"""The extension API: both styles of Action and Role, declared fields, `_aask`, wiring helpers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field

from metagpt.actions import Action, ActionOutput, UserRequirement
from metagpt.context import Context
from metagpt.llm import LLM
from metagpt.provider.fake import FakeProvider
from metagpt.roles import Role, RoleReactMode
from metagpt.schema import Message, any_to_str


class Declarative(Action):
    name: str = "SimpleWriteCode"
    PROMPT_TEMPLATE: str = "Write a function that can {instruction}."

    async def run(self, instruction: str) -> str:
        return await self._aask(self.PROMPT_TEMPLATE.format(instruction=instruction))


class Plain(Action):
    PROMPT_TEMPLATE = "Shout about {topic}."

    def __init__(self, name="ShoutOut", context=None, llm=None):
        super().__init__(name, context, llm)

    async def run(self, topic: str) -> str:
        return await self._aask(self.PROMPT_TEMPLATE.format(topic=topic), system_msgs=["Be loud."])


class Debator(Role):
    name: str = ""
    profile: str = ""
    opponent_name: str = ""
    notes: list[str] = []  # noqa: RUF012 - a mutable default, as users write it; copied per instance
    extra: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, **data: Any):
        super().__init__(**data)
        self.set_actions([Plain])
        self._watch([UserRequirement, Plain])


class OldStyle(Role):
    def __init__(self, name="Trump", profile="Republican", **kwargs):
        super().__init__(name, profile, **kwargs)
        self._init_actions([Plain])
        self.opponent_name = "Biden"  # plain classes may set any attribute


def fake_llm(fake_config, answers: list[str]) -> tuple[LLM, FakeProvider]:
    provider = FakeProvider(answers)
    return LLM(Context(fake_config, provider=provider), role="Tester"), provider


def test_action_styles_construct_with_names_and_str():
    declarative, plain = Declarative(), Plain()

    assert (declarative.name, str(declarative), declarative.PROMPT_TEMPLATE) == (
        "SimpleWriteCode",
        "SimpleWriteCode",
        "Write a function that can {instruction}.",
    )
    assert (plain.name, str(plain), plain.context) == ("ShoutOut", "ShoutOut", None)
    assert Plain("Other", {"k": 1}).context == {"k": 1}
    assert str(Action()) == "Action"
    assert Declarative(name="Renamed").name == "Renamed"


def test_unknown_keyword_is_a_clear_type_error():
    with pytest.raises(TypeError, match=r"unexpected keyword.*'colour'"):
        Declarative(colour="red")


async def test_aask_sends_the_role_prefix_then_extra_system_messages(fake_config):
    llm, provider = fake_llm(fake_config, ["loud!"])
    action = Plain(llm=llm).set_prefix("You are Trump.")

    assert await action.run("taxes") == "loud!"

    assert provider.calls[0].messages == [
        {"role": "system", "content": "You are Trump."},
        {"role": "system", "content": "Be loud."},
        {"role": "user", "content": "Shout about taxes."},
    ]


async def test_action_without_a_role_uses_a_default_llm(fake_config, monkeypatch):
    monkeypatch.setenv("API_TYPE", "fake")

    answer = await Declarative().run("add numbers")

    assert answer.startswith("```python")  # the fake provider's default code answer


def test_role_positional_keyword_and_declared_fields():
    role = Role("Alice", "SimpleCoder", "Write code", "PEP8", "")
    debator = Debator(name="Biden", profile="Democrat", opponent_name="Trump")
    other = Debator(name="Trump", profile="Republican")

    assert (role.name, role.profile, role.goal, role.constraints) == ("Alice", "SimpleCoder", "Write code", "PEP8")
    assert role._setting == "Alice(SimpleCoder)"
    assert (debator.opponent_name, other.opponent_name) == ("Trump", "")
    debator.notes.append("x")
    assert other.notes == [] and other.extra == {}  # defaults are never shared
    assert Role(desc="You are a pirate.").system_prompt == "You are a pirate."


def test_plain_class_role_keeps_free_attributes_and_old_names():
    role = OldStyle()

    assert (role.name, role.profile, role.opponent_name) == ("Trump", "Republican", "Biden")
    assert role._rc is role.rc and role._actions is role.actions
    assert role._states == ["0. ShoutOut"]
    assert isinstance(role.actions[0], Plain)


def test_role_context_defaults_and_helpers():
    role = Debator(name="Biden")

    assert role.rc.watch == {any_to_str(UserRequirement), any_to_str(Plain)}
    assert (role.rc.react_mode, role.rc.max_react_loop, role.rc.state, role.rc.todo) == (
        RoleReactMode.REACT,
        1,
        -1,
        None,
    )
    role._set_react_mode(RoleReactMode.BY_ORDER.value)
    assert role.rc.react_mode == RoleReactMode.BY_ORDER
    with pytest.raises(ValueError, match="react_mode must be one of"):
        role._set_react_mode("sometimes")
    assert Role().rc.watch == {any_to_str(UserRequirement)}  # every role hears the user by default


def test_set_actions_accepts_classes_and_instances():
    role = Role()
    mine = Plain()

    role.set_actions([Declarative, mine])

    assert role.actions[1] is mine and isinstance(role.actions[0], Declarative)
    assert role.states == ["0. SimpleWriteCode", "1. ShoutOut"]
    assert mine.prefix == role.system_prompt


@pytest.mark.parametrize(
    ("result", "content", "instruct"),
    [
        ("text", "text", None),
        (None, "", None),
        (ActionOutput("out", Message("inner")), "out", "inner"),
    ],
)
async def test_default_act_wraps_any_result_in_a_message_caused_by_the_action(fake_config, result, content, instruct):
    class Returns(Action):
        async def run(self, history: list[Message]) -> Any:
            assert [m.content for m in history] == ["go"]
            return result

    role = Role(name="Ann", profile="Analyst", context=Context(fake_config, provider=FakeProvider([])))
    role.set_actions([Returns])

    message = await role.run("go")

    assert (message.content, message.cause_by, message.role, message.sent_from) == (
        content,
        any_to_str(Returns),
        "Analyst",
        "Ann",
    )
    assert (message.instruct_content.content if instruct else None) == instruct
    assert role.get_memories(k=1) == [message]


async def test_message_for_the_role_itself_stays_in_its_buffer(fake_config):
    role = Role(name="Ann", context=Context(fake_config, provider=FakeProvider([])))

    role.publish_message(Message("note to self", send_to="Ann"))

    assert [m.content for m in role.rc.msg_buffer] == ["note to self"]
    assert not role.is_idle
