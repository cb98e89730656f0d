"""Structured outputs: strict and bounded schemas, JSON extraction, format instructions."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from metagpt.actions import PRD, SystemDesign, Tasks
from metagpt.provider.base import OutputSchema
from metagpt.utils.structured import (
    bounded_schema,
    extract_json,
    format_instructions,
    parse_output,
    strict_json_schema,
)


class Inner(BaseModel):
    name: str = Field("x", examples=["n"])
    tags: list[str] = []


class Outer(BaseModel):
    inner: Inner
    items: list[Inner] = Field(default_factory=list)
    note: str | None = None
    level: int = Field(1, examples=[3])


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema dict nested in `node`."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def schema_nodes(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Schema dicts only, skipping the `properties` maps themselves (their keys are field names)."""
    for node in walk(schema):
        if node is not schema.get("$defs") and not any(node is n.get("properties") for n in walk(schema)):
            yield node


@pytest.mark.parametrize("model", [Outer, PRD, SystemDesign, Tasks])
def test_strict_schema_closes_every_object_and_requires_all(model):
    original = model.model_json_schema()
    pristine = copy.deepcopy(original)

    strict = strict_json_schema(original)

    objects = [n for n in walk(strict) if n.get("type") == "object" and "properties" in n]
    assert len(objects) == 1 + len(strict.get("$defs", {}))
    for node in objects:
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])
    for node in schema_nodes(strict):
        assert not {"default", "examples", "x-mermaid", "x-resource"} & set(node)
    assert original == pristine  # the input is copied, not changed


def test_strict_schema_of_nested_defs():
    strict = strict_json_schema(Outer.model_json_schema())

    assert strict["$defs"]["Inner"] == {
        "properties": {
            "name": {"title": "Name", "type": "string"},
            "tags": {"items": {"type": "string"}, "title": "Tags", "type": "array"},
        },
        "required": ["name", "tags"],
        "title": "Inner",
        "type": "object",
        "additionalProperties": False,
    }
    assert strict["required"] == ["inner", "items", "note", "level"]
    assert strict["properties"]["level"] == {"title": "Level", "type": "integer"}


def test_strict_schema_keeps_fields_named_like_dropped_keywords():
    class Settings(BaseModel):
        default: str
        examples: list[str]

    strict = strict_json_schema(Settings.model_json_schema())

    assert list(strict["properties"]) == ["default", "examples"]
    assert strict["required"] == ["default", "examples"]


def test_bounded_schema_bounds_every_string_and_array():
    original = PRD.model_json_schema()
    pristine = copy.deepcopy(original)

    bounded = bounded_schema(original, max_length=300, max_items=4)

    strings = [n for n in walk(bounded) if n.get("type") == "string" and "enum" not in n]
    arrays = [n for n in walk(bounded) if n.get("type") == "array"]
    assert len(strings) == 9  # 5 str fields, the items of 3 list[str] fields, RequirementItem.requirement
    assert all(n["maxLength"] == 300 for n in strings)
    assert len(arrays) == 4
    assert all(n["maxItems"] == 4 and n["minItems"] == 1 for n in arrays)
    assert original == pristine


def test_bounded_schema_keeps_tighter_bounds_and_enums():
    schema = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "maxLength": 5},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "few": {"type": "array", "items": {"type": "string"}, "maxItems": 2, "minItems": 0},
        },
    }

    bounded = bounded_schema(schema, max_length=100, max_items=10)

    assert bounded["properties"] == {
        "code": {"type": "string", "maxLength": 5},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "few": {"type": "array", "items": {"type": "string", "maxLength": 100}, "maxItems": 2, "minItems": 0},
    }


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "b": [2, 3]}',
        '```json\n{"a": 1, "b": [2, 3]}\n```',
        '```\n{"a": 1, "b": [2, 3]}\n```',
        'Here is the answer:\n```json\n{"a": 1, "b": [2, 3]}\n```\nHope it helps {really}.',
        'Sure! {"a": 1, "b": [2, 3]} Let me know.',
        '```json\n{"a": 1, "b": [2, 3]}```',
        '  \n{"a": 1,\n "b": [2, 3]}\n  ',
    ],
)
def test_extract_json(text):
    assert extract_json(text) == {"a": 1, "b": [2, 3]}


def test_extract_json_top_level_array():
    assert extract_json("[1, 2]") == [1, 2]


@pytest.mark.parametrize("text", ["", "no json here", "{not: json}", "```json\n{'a': 1}\n```", '{"a": 1'])
def test_extract_json_raises_value_error_on_garbage(text):
    with pytest.raises(ValueError, match=r"^the answer is not valid JSON"):
        extract_json(text)


def test_parse_output_validates_against_the_model():
    assert parse_output('```json\n{"inner": {"name": "a"}}\n```', Outer) == Outer(inner=Inner(name="a"))
    with pytest.raises(ValidationError):
        parse_output('{"items": []}', Outer)


def test_output_schema_is_the_full_pydantic_schema():
    schema = OutputSchema.of(PRD)

    assert schema.name == "PRD"
    assert schema.json_schema == PRD.model_json_schema()


def test_format_instructions_list_every_field_of_prd():
    text = format_instructions(PRD)
    lines = text.splitlines()

    assert lines[0] == "Return only one JSON object, with exactly these keys:"
    field_lines = lines[1 : 1 + len(PRD.model_fields)]
    assert field_lines == [
        f'- "{name}" ({field.title}): {field.description}' for name, field in PRD.model_fields.items()
    ]
    assert lines[1 + len(PRD.model_fields)] == "Example of the format (write your own content):"
    example = json.loads("\n".join(lines[2 + len(PRD.model_fields) :]))
    assert list(example) == list(PRD.model_fields)
    PRD.model_validate(example)


def test_format_instructions_without_examples_has_no_example_block():
    class Plain(BaseModel):
        answer: str = Field(description="The answer.")
        count: int

    assert format_instructions(Plain) == (
        'Return only one JSON object, with exactly these keys:\n- "answer" (answer): The answer.\n- "count" (count):'
    )


def test_format_examples_are_made_compact_for_one_space_grammars():
    from metagpt.utils.structured import compact_examples

    text = f"Write it.\n\n{format_instructions(PRD)}\n\nAbout: a todo app"
    [message] = compact_examples([{"role": "user", "content": text}])
    example = message["content"].split("(write your own content):\n", 1)[1]
    line, rest = example.split("\n", 1)
    assert json.loads(line) == PRD.model_validate(json.loads(line)).model_dump()  # the whole example, one line
    assert rest == "\nAbout: a todo app"
    untouched = {"role": "system", "content": "Example of the format (write your own content):\nnot json"}
    assert compact_examples([untouched]) == [untouched]


def test_a_schema_built_grammar_endpoint_gets_the_example_compact():
    from metagpt.config import Config
    from metagpt.provider.base import ModelRequest
    from metagpt.provider.openai_api import OpenAIProvider

    provider = OpenAIProvider(Config(openai_base_url="http://127.0.0.1:9/v1", openai_api_key="sk-a"))
    text = f"Write it.\n\n{format_instructions(PRD)}"
    request = ModelRequest(
        messages=[{"role": "user", "content": text}], max_tokens=100, output_schema=OutputSchema.of(PRD)
    )

    def shown(mode):
        content = provider._kwargs(request, mode, False)["messages"][-1]["content"]
        return content.split("(write your own content):\n", 1)[1]

    assert "\n  " in shown("json_schema")  # the endpoint takes the schema itself: as written
    assert "\n" not in shown("json_object_schema")  # llama.cpp's server: one optional space
