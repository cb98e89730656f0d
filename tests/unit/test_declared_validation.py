"""Role and Action fields are validated by pydantic and dump/validate like MetaGPT 0.6+ models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
import pytest
from pydantic import Field

from metagpt.actions import Action, UserRequirement
from metagpt.roles import Role
from metagpt.schema import Message

if TYPE_CHECKING:
    from metagpt.llm import LLM


class WriteCode(Action):
    name: str = "WriteCode"
    PROMPT_TEMPLATE: str = "Write a python function that can {instruction}."
    retries: int = Field(default=2, ge=0)
    tags: list[str] = Field(default_factory=list)


class ModernCoder(Role):  # MetaGPT 0.6+ style
    name: str = "Alice"
    profile: str = "SimpleCoder"
    rounds: int = 3
    notes: list[str] = Field(default_factory=list)
    workdir: Path = Path("workspace")

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._watch([UserRequirement])
        self.set_actions([WriteCode])


class OldCoder(Role):  # MetaGPT 0.2-0.5 style
    def __init__(self, name: str = "Bob", profile: str = "Engineer", **kwargs: Any):
        super().__init__(name, profile, **kwargs)
        self._init_actions([WriteCode])


class Client:
    pass


class Holder(Role):  # annotations pydantic cannot check, or cannot even resolve
    client: Client | None = None
    hook: Callable[[str], str] | None = None
    helper: LLM | None = None  # imported only for type checking


def test_a_bad_value_raises_pydantics_validation_error_naming_class_and_field():
    with pytest.raises(pydantic.ValidationError) as role_error:
        Role(name=42)
    with pytest.raises(pydantic.ValidationError) as action_error:
        Action(name=[1])

    assert role_error.value.title == "Role"
    assert role_error.value.errors()[0]["loc"] == ("name",)
    assert "valid string" in str(role_error.value)
    assert action_error.value.title == "Action" and action_error.value.errors()[0]["loc"] == ("name",)
    with pytest.raises(pydantic.ValidationError, match="profile"):
        Role("Alice", 42)  # positional arguments are validated too
    with pytest.raises(pydantic.ValidationError, match="greater than or equal to 0"):
        WriteCode(retries=-1)  # Field(...) constraints hold
    with pytest.raises(pydantic.ValidationError, match="rounds"):
        ModernCoder(rounds="many")


def test_values_are_coerced_as_pydantic_would():
    coder = ModernCoder(rounds="5", workdir="out", notes=("a", "b"))
    human = Role(is_human="true")

    assert (coder.rounds, coder.workdir, coder.notes) == (5, Path("out"), ["a", "b"])
    assert human.is_human is True
    assert WriteCode(retries="4").retries == 4


def test_unknown_keywords_and_later_assignments_behave_as_before():
    with pytest.raises(TypeError, match="unexpected keyword"):
        Role(colour="red")
    role = Role("Alice")
    role.anything = 1  # attributes stay free to assign after construction
    role._private = 2
    assert (role.anything, role._private) == (1, 2)


def test_annotations_pydantic_cannot_check_are_accepted_as_is():
    sentinel = Client()
    holder = Holder(client=sentinel, hook=str.upper, helper="anything")

    assert (holder.client, holder.hook, holder.helper) == (sentinel, str.upper, "anything")
    assert {"client", "hook", "helper"}.isdisjoint(holder.model_dump())  # runtime objects are not dumped
    assert Holder.model_validate(holder.model_dump()).name == "Holder"
    with pytest.raises(pydantic.ValidationError, match="instance of Client"):
        Holder(client="not a client")  # an arbitrary class is still checked with isinstance


def test_role_round_trips_through_model_dump_and_model_validate():
    message = Message("hi", cause_by=UserRequirement)
    role = Role("Alice", "Coder", goal="Write code", constraints="PEP8", latest_observed_msg=message)

    dump = role.model_dump()
    again = Role.model_validate(dump)

    assert dump == {
        "name": "Alice",
        "profile": "Coder",
        "goal": "Write code",
        "constraints": "PEP8",
        "desc": "",
        "is_human": False,
        "recovered": False,
        "latest_observed_msg": message.model_dump(),
    }
    assert again.model_dump() == dump and again._setting == "Alice(Coder)"
    assert again.latest_observed_msg == message
    assert Role.model_validate_json(role.model_dump_json()).model_dump() == dump
    assert "rc" not in dump and "actions" not in dump  # runtime state is not dumped
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        Role.model_validate({"name": "Alice", "colour": "red"})


def test_action_round_trips_and_its_model_is_not_dumped():
    action = Action(name="Say", instruction="Say your opinion", context="the topic")

    dump = action.model_dump()
    again = Action.model_validate(dump)

    assert dump == {"name": "Say", "i_context": "the topic", "prefix": "", "desc": ""}
    assert (again.name, again.context) == ("Say", "the topic")
    assert set(Action.model_fields) == {"name", "i_context", "prefix", "desc", "node"}


def test_modern_subclass_round_trips_with_its_typed_fields():
    coder = ModernCoder(name="Carol", rounds=7, notes=["x"], workdir="w")

    dump = coder.model_dump()
    json_dump = coder.model_dump(mode="json")
    again = ModernCoder.model_validate(json_dump)

    assert (dump["rounds"], dump["notes"], dump["workdir"]) == (7, ["x"], Path("w"))
    assert json_dump["workdir"] == "w"
    assert (again.name, again.rounds, again.notes, again.workdir) == ("Carol", 7, ["x"], Path("w"))
    assert [str(a) for a in again.actions] == ["WriteCode"]
    assert ModernCoder.model_fields["rounds"].default == 3
    assert ModernCoder.model_json_schema()["properties"]["rounds"] == {
        "default": 3,
        "title": "Rounds",
        "type": "integer",
    }
    assert WriteCode.model_validate(WriteCode(retries=1, tags=["a"]).model_dump()).model_dump()["tags"] == ["a"]


def test_old_style_subclass_round_trips_and_keeps_its_actions():
    coder = OldCoder(goal="Ship it")

    again = OldCoder.model_validate(coder.model_dump())

    assert (again.name, again.profile, again.goal) == ("Bob", "Engineer", "Ship it")
    assert [str(a) for a in again.actions] == ["WriteCode"]


def test_model_copy_updates_fields():
    coder = ModernCoder()
    copied = coder.model_copy(update={"rounds": 9})

    assert (copied.rounds, coder.rounds, copied.name) == (9, 3, "Alice")
    assert copied is not coder
