"""`ActionNode` as MetaGPT 0.5-0.8's unit tests use it, on our validated structured-output path."""

from __future__ import annotations

import io
import json
import sys

import pytest
from pydantic import BaseModel, Field

from metagpt.actions.action_node import ActionNode, ReviewMode, ReviseMode
from metagpt.context import Context
from metagpt.exceptions import UserError
from metagpt.llm import LLM
from metagpt.provider.fake import FakeProvider


def fake_llm(fake_config, answers: list[str]) -> tuple[LLM, FakeProvider]:
    provider = FakeProvider(answers)
    return LLM(Context(fake_config, provider=provider)), provider


def plan_node() -> ActionNode:
    language = ActionNode("Language", str, "The user's language", "en_us")
    programming = ActionNode("Programming Language", str, "The language to program in", "Python")
    goals = ActionNode("Goals", list[str], "Up to three goals", ["Fast", "Simple"])
    details = ActionNode.from_children("Details", [goals])
    return ActionNode.from_children("Plan", [language, programming, details])


PLAN = {"Language": "en_us", "Programming Language": "Python", "Details": {"Goals": ["Snake", "Scores"]}}


async def test_nested_from_children_fills_a_validated_instance_in_one_request(fake_config):
    llm, provider = fake_llm(fake_config, [json.dumps(PLAN)])
    node = plan_node()

    filled = await node.fill(context="Build a snake game", llm=llm)

    assert filled is node
    assert node.instruct_content.model_dump() == PLAN
    assert json.loads(node.content) == PLAN
    assert node.instruct_content.Details.Goals == ["Snake", "Scores"]  # a nested model, not a dict
    (request,) = provider.calls
    assert request.output_schema.name == "Plan_AN"
    schema = request.output_schema.json_schema
    assert set(schema["required"]) == {"Language", "Programming Language", "Details"}
    prompt = request.messages[-1]["content"]
    assert prompt.startswith("## context\nBuild a snake game")
    assert "- Details: object\n  - Goals: list[str]  # Up to three goals" in prompt
    assert node.keys() == ["Language", "Programming Language", "Details"]
    assert node.to_dict() == {
        "Language": "The user's language",
        "Programming Language": "The language to program in",
        "Details": {"Goals": "Up to three goals"},
    }


async def test_an_invalid_answer_is_fed_back_and_repaired(fake_config):
    llm, provider = fake_llm(fake_config, ['{"Language": "en"}', json.dumps(PLAN)])

    node = await plan_node().fill(context="x", llm=llm)

    assert node.instruct_content.model_dump() == PLAN
    assert len(provider.calls) == 2
    assert "That answer is invalid" in provider.calls[1].messages[-1]["content"]


async def test_raw_schema_gives_text_and_no_instance(fake_config):
    llm, provider = fake_llm(fake_config, ["Just prose."])
    node = ActionNode("Say", str, "Say hello", "")

    await node.fill(context="## History\n0: user: hi", llm=llm, schema="raw")

    assert (node.content, node.instruct_content) == ("Just prose.", None)
    assert provider.calls[0].output_schema is None
    assert provider.calls[0].messages[-1]["content"].endswith("Say hello")


async def test_complex_strategy_asks_each_child_then_merges(fake_config):
    answers = ['{"Language": "fr"}', '{"Programming Language": "Rust"}', '{"Details": {"Goals": ["A"]}}']
    llm, provider = fake_llm(fake_config, answers)

    node = await plan_node().fill(context="x", llm=llm, strgy="complex")

    assert node.instruct_content.model_dump() == {
        "Language": "fr",
        "Programming Language": "Rust",
        "Details": {"Goals": ["A"]},
    }
    assert [c.output_schema.name for c in provider.calls] == ["Language_AN", "Programming_Language_AN", "Details_AN"]


async def test_markdown_schema_renders_sections(fake_config):
    llm, _ = fake_llm(fake_config, [json.dumps(PLAN)])

    node = await plan_node().fill(context="x", llm=llm, schema="markdown")

    assert node.content.startswith("## Language\nen_us\n\n## Programming Language\nPython")


async def test_auto_review_then_revise_rewrites_only_commented_keys(fake_config):
    review = {"Language": "Too vague: name the locale", "Programming Language": "", "Details": ""}
    llm, provider = fake_llm(fake_config, [json.dumps(PLAN), json.dumps(review), '{"Language": "English (US)"}'])
    node = await plan_node().fill(context="x", llm=llm)

    revised = await node.revise(revise_mode=ReviseMode.AUTO)

    assert revised == {"Language": "English (US)"}
    assert node.instruct_content.Language == "English (US)"
    assert node.instruct_content.Details.Goals == ["Snake", "Scores"]
    revise_request = provider.calls[2]
    assert revise_request.output_schema.json_schema["required"] == ["Language"]
    assert "Too vague: name the locale" in revise_request.messages[-1]["content"]


async def test_review_before_fill_is_refused_and_human_review_reads_a_pipe(fake_config, monkeypatch):
    with pytest.raises(RuntimeError, match="after `fill`"):
        await plan_node().review()
    llm, provider = fake_llm(fake_config, [json.dumps(PLAN)])
    node = await plan_node().fill(context="x", llm=llm)
    monkeypatch.setattr(sys, "stdin", io.StringIO("say en-US\n\n\n"))

    comments = await node.review(review_mode=ReviewMode.HUMAN)

    assert comments == {"Language": "say en-US"}
    assert len(provider.calls) == 1  # a human review asks no model


async def test_human_revise_validates_typed_values(fake_config, monkeypatch):
    llm, _ = fake_llm(fake_config, ['{"Goals": ["a"]}'])
    node = await ActionNode.from_children("P", [ActionNode("Goals", list[str], "goals", ["a"])]).fill("x", llm)
    monkeypatch.setattr(sys, "stdin", io.StringIO('["one", "two"]\n'))

    assert await node.revise(revise_mode=ReviseMode.HUMAN) == {"Goals": ["one", "two"]}
    assert node.get("Goals") == ["one", "two"]


async def test_a_human_value_of_the_wrong_type_or_a_closed_input_is_one_clear_error_and_keeps_the_answer(
    fake_config, monkeypatch
):
    llm, _ = fake_llm(fake_config, ['{"Goals": ["a"]}'])
    node = await ActionNode.from_children("P", [ActionNode("Goals", list[str], "goals", ["a"])]).fill("x", llm)
    monkeypatch.setattr(sys, "stdin", io.StringIO('"one"\n'))
    with pytest.raises(UserError, match=r"^Goals: '\"one\"' is not a valid list\[str\] \(Input should be a valid"):
        await node.revise(revise_mode=ReviseMode.HUMAN)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(UserError, match="Standard input closed"):
        await node.review(review_mode=ReviewMode.HUMAN)
    assert node.get("Goals") == ["a"]


async def test_a_complex_review_asks_once_per_key(fake_config):
    answers = [json.dumps(PLAN), '{"Language": "name the locale"}', '{"Programming Language": ""}', '{"Details": ""}']
    llm, provider = fake_llm(fake_config, answers)
    node = await plan_node().fill(context="x", llm=llm)

    comments = await node.review(strgy="complex")

    assert comments == {"Language": "name the locale"}
    assert [c.output_schema.json_schema["required"] for c in provider.calls[1:]] == [
        ["Language"],
        ["Programming Language"],
        ["Details"],
    ]


class Chapter(BaseModel):
    name: str = Field(default="Chapter 1", description="The name of the chapter.")
    content: str = Field(default="...", description="The content of the chapter.")


class Novel(BaseModel):
    name: str = Field(default="The Lord of the Rings", description="The name of the novel.")
    characters: list[str] = Field(default=["Frodo", "Gandalf"], description="The characters.")
    first: Chapter = Field(description="The first chapter.")


async def test_from_pydantic_nests_model_fields_and_fake_models_answer_from_examples(fake_config):
    provider = FakeProvider()  # schema-driven: answers with the schema's examples
    node = ActionNode.from_pydantic(Novel)

    await node.fill(context="Write a novel", llm=LLM(Context(fake_config, provider=provider)))

    assert list(node.children) == ["name", "characters", "first"]
    assert list(node.children["first"].children) == ["name", "content"]
    assert node.instruct_content.model_dump() == {
        "name": "The Lord of the Rings",
        "characters": ["Frodo", "Gandalf"],
        "first": {"name": "Chapter 1", "content": "..."},
    }


def test_create_model_class_takes_metagpt_mappings():
    model = ActionNode.create_model_class("Task List", {"Task list": (list[str], ...), "Anything": str})

    assert model.__name__ == "Task_List"
    assert model(**{"Task list": ["a.py"], "Anything": "x"}).model_dump() == {"Task list": ["a.py"], "Anything": "x"}
    with pytest.raises(ValueError):
        model(**{"Task list": "not a list", "Anything": "x"})
