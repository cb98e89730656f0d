"""MetaGPT 0.6-0.8's own unit tests of Memory, Message and Environment, in their shape."""

from __future__ import annotations

import pytest

from metagpt.actions import UserRequirement
from metagpt.context import Context
from metagpt.environment import Environment
from metagpt.memory import Memory
from metagpt.roles import ProductManager, Role
from metagpt.schema import AIMessage, Message, RawMessage, SystemMessage, UserMessage


def test_memory():
    memory = Memory()
    message1 = Message(content="test message1", role="user1")
    message2 = Message(content="test message2", role="user2")
    message3 = Message(content="test message3", role="user1")
    memory.add(message1)
    assert memory.count() == 1
    memory.delete_newest()
    assert memory.count() == 0
    memory.add_batch([message1, message2])
    assert memory.count() == 2
    assert len(memory.index.get(message1.cause_by)) == 2
    assert memory.get_by_role("user1")[0].content == message1.content
    assert len(memory.get_by_content("test message")) == 2
    assert len(memory.get_by_action(UserRequirement)) == 2
    assert len(memory.get_by_actions({UserRequirement})) == 2
    assert len(memory.try_remember("test message")) == 2
    assert len(memory.get(k=1)) == 1
    assert len(memory.get(k=5)) == 2
    assert len(memory.find_news([message3])) == 1
    memory.delete(message1)
    assert memory.count() == 1
    assert memory.get_by_role("user2")[0].content == message2.content
    memory.clear()
    assert memory.count() == 0
    assert len(memory.index) == 0


def test_messages():
    msg = Message(role="User", content="WTF")
    assert msg.to_dict()["role"] == "User" and "User" in str(msg)
    msgs = [UserMessage("m"), SystemMessage("m"), AIMessage("m"), Message(content="m", role="QA")]
    assert [(m.content, m.role) for m in msgs] == [("m", "user"), ("m", "system"), ("m", "assistant"), ("m", "QA")]
    raw = RawMessage(role="user", content="raw")
    assert (raw["role"], raw["content"]) == ("user", "raw")
    with pytest.raises(KeyError):
        raw["1"]


def test_environment_add_and_get_roles(fake_config):
    env = Environment(context=Context(fake_config))
    role = ProductManager(name="Alice", profile="product manager", goal="create a new product")
    env.add_role(role)
    assert env.get_role(role.profile) is role  # MetaGPT 0.7 looked roles up by profile
    bob = Role(name="Bob", profile="engineer", goal="develop the new product", constraints="short deadline")
    env.add_roles([bob])
    assert env.get_roles() == {"Alice": role, "Bob": bob}  # keyed by name, as later releases
    assert role.context is bob.context is env.context


def test_attr_dict():
    from metagpt.context import AttrDict

    ad = AttrDict(name="John", age=30)
    assert (ad.name, ad.age, ad.height) == ("John", 30, None)
    ad.height = 180
    assert ad.height == 180 and ad["height"] == 180
    del ad.age
    assert ad.age is None and "age" not in ad
    with pytest.raises(AttributeError, match="No such attribute: weight"):
        del ad.weight
    ad["weight"] = 70
    ad.set("city", "Paris")
    assert ad.get("weight") == 70 and ad.get("missing", "d") == "d" and ad.city == "Paris"
    ad.remove("city")
    ad.remove("city")  # removing twice is fine
    assert ad.model_dump() == {"name": "John", "height": 180, "weight": 70}

    validated = AttrDict.model_validate({"name": "John", "age": 30})
    assert (validated.name, validated.age) == ("John", 30)


def test_context_kwargs_is_an_attr_dict(fake_config):
    from metagpt.context import AttrDict

    ctx = Context(fake_config)
    assert isinstance(ctx.kwargs, AttrDict) and ctx.git_repo is None and ctx.src_workspace is None
    ctx.kwargs.test_key = "test_value"
    assert ctx.kwargs.test_key == ctx.kwargs["test_key"] == "test_value"
