"""FakeProvider: scripted answers, callable responders, schema-driven answers, recorded calls."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from metagpt.actions import PRD, SystemDesign, Tasks
from metagpt.provider.base import ModelRequest, OutputSchema, StreamChunk
from metagpt.provider.fake import FAKE_CODE, FakeProvider, sample_from_schema
from metagpt.utils.token_counter import count_text_tokens


def ask(text: str, schema: type[BaseModel] | None = None) -> ModelRequest:
    return ModelRequest(
        messages=[{"role": "user", "content": text}],
        max_tokens=100,
        output_schema=OutputSchema.of(schema) if schema else None,
    )


async def test_scripted_responses_come_in_order_and_calls_are_recorded():
    provider = FakeProvider(["first", "second"])
    requests = [ask("a"), ask("b")]

    answers = [await provider.complete(r) for r in requests]

    assert [a.text for a in answers] == ["first", "second"]
    assert provider.calls == requests
    assert all(a.model == "fake" and a.finish_reason == "stop" for a in answers)
    provider.assert_complete()


async def test_callable_responder_gets_the_request():
    provider = FakeProvider([lambda request: request.messages[-1]["content"].upper(), "plain"])

    assert (await provider.complete(ask("shout"))).text == "SHOUT"
    assert (await provider.complete(ask("x"))).text == "plain"


async def test_assert_complete_fails_when_answers_are_left():
    provider = FakeProvider(["used", "unused 1", "unused 2"])
    await provider.complete(ask("a"))

    with pytest.raises(AssertionError, match=r"^2 scripted responses were never requested$"):
        provider.assert_complete()


async def test_running_out_of_script_fails_loudly():
    provider = FakeProvider(["only"])
    await provider.complete(ask("a"))

    with pytest.raises(AssertionError, match="no scripted response left for request 2"):
        await provider.complete(ask("b"))


async def test_empty_script_is_scripted_not_schema_driven():
    provider = FakeProvider([])

    with pytest.raises(AssertionError, match="no scripted response left"):
        await provider.complete(ask("a", PRD))


async def test_usage_counts_prompt_and_answer_tokens():
    provider = FakeProvider(["hello world"])
    request = ask("count me")

    response = await provider.complete(request)

    assert response.usage.prompt_tokens == provider.count_tokens(request.messages)
    assert response.usage.completion_tokens == count_text_tokens("hello world")
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


@pytest.mark.parametrize("model", [PRD, SystemDesign, Tasks])
async def test_schema_driven_answers_validate(model):
    provider = FakeProvider()

    response = await provider.complete(ask("write it", model))

    document = model.model_validate_json(response.text)
    assert json.loads(response.text) == json.loads(document.model_dump_json())  # every field came from the answer
    assert provider.calls[0].output_schema.name == model.__name__


async def test_schema_driven_system_design_uses_the_examples():
    provider = FakeProvider()

    design = SystemDesign.model_validate_json((await provider.complete(ask("design", SystemDesign))).text)

    assert design.python_package_name == "cli_snake_game"
    assert design.file_list == ["main.py", "game.py", "snake.py"]


async def test_plain_requests_get_a_python_code_block():
    assert (await FakeProvider().complete(ask("write main.py"))).text == FAKE_CODE


async def test_default_stream_yields_the_text_then_the_response():
    provider = FakeProvider(["streamed"])

    chunks = [chunk async for chunk in provider.stream(ask("a"))]

    assert [c.delta for c in chunks] == ["streamed", ""]
    assert chunks[0] == StreamChunk(delta="streamed")
    assert chunks[1].response is not None and chunks[1].response.text == "streamed"


def test_fake_provider_is_free():
    assert FakeProvider().priced is False
    assert FakeProvider(model="other").model == "other"


def test_sample_from_schema_follows_refs_enums_and_types():
    schema = {
        "type": "object",
        "properties": {
            "ref": {"$ref": "#/$defs/Item"},
            "choice": {"enum": ["b", "a"]},
            "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "flags": {"type": "array", "items": {"type": "boolean"}, "minItems": 2},
            "pair": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}]},
            "ex": {"type": "string", "examples": ["first", "second"]},
        },
    }
    defs = {"Item": {"type": "object", "properties": {"n": {"type": "integer"}}}}

    assert sample_from_schema(schema, defs) == {
        "ref": {"n": 0},
        "choice": "b",
        "maybe": 0,
        "flags": [False, False],
        "pair": [0.0, ""],
        "ex": "first",
    }
