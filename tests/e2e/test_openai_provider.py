"""`LLM` over the real `openai` SDK against a loopback server: text, streams, errors, formats, cost."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import BaseModel

from metagpt.context import Context
from metagpt.cost_manager import TOKEN_PRICES
from metagpt.exceptions import (
    AuthenticationError,
    ConfigError,
    ModelBehaviorError,
    NoMoneyException,
    ProviderError,
)
from metagpt.llm import LLM
from metagpt.provider import openai_api
from metagpt.provider.base import prompt_allowance
from metagpt.reservation import schema_tokens
from metagpt.utils.structured import format_instructions
from metagpt.utils.token_counter import count_message_tokens, count_text_tokens
from tests.e2e.conftest import MODEL, openai_config
from tests.e2e.openai_server import RETRY_NOW, OpenAIServer, answer, error, usage


class Address(BaseModel):
    city: str
    zip_code: str


class Person(BaseModel):
    """The structured answer the tests ask for."""

    name: str
    age: int
    addresses: list[Address]


ADA = Person(name="Ada", age=36, addresses=[Address(city="London", zip_code="W1")])
ADA_JSON = ADA.model_dump_json()
PERSON_PROMPT = f"Describe Ada Lovelace.\n{format_instructions(Person)}"


def dollars(prompt_tokens: int, completion_tokens: int, model: str = MODEL) -> float:
    """Cost of a call from the price table, computed independently of the cost manager."""
    price = TOKEN_PRICES[model]
    return (prompt_tokens * price.prompt + completion_tokens * price.completion) / 1_000_000


def format_of(body: dict[str, Any]) -> str | None:
    """The structured-output mode of a request body, None without `response_format`.

    `json_object+schema` is `json_object` with the schema attached (llama.cpp's extension).
    """
    response_format = body.get("response_format")
    if not response_format:
        return None
    kind = response_format["type"]
    return f"{kind}+schema" if kind == "json_object" and "schema" in response_format else kind


def formats(server: OpenAIServer) -> list[str | None]:
    """`format_of` each request received, in order."""
    return [format_of(body) for body in server.bodies]


def assert_one_call_recorded(llm: LLM, prompt_tokens: int, completion_tokens: int) -> None:
    """Exactly one call was charged, at the price table's rate for the given usage."""
    costs = llm.cost_manager
    expected = dollars(prompt_tokens, completion_tokens)
    assert expected > 0
    assert costs.total.calls == 1
    assert (costs.total.prompt_tokens, costs.total.completion_tokens) == (prompt_tokens, completion_tokens)
    assert costs.total_cost == pytest.approx(expected, rel=1e-12)
    assert costs.by_role["Tester"].cost == pytest.approx(expected, rel=1e-12)
    assert costs.by_model[MODEL].calls == 1
    assert costs.remaining == pytest.approx(costs.max_budget - expected, rel=1e-12)  # no reservation left


# -- plain text ----------------------------------------------------------------------------------


async def test_aask_returns_the_text_and_charges_the_reported_usage(openai_server, make_llm):
    openai_server.plan(answer("Forty-two.", usage=usage(1200, 300)))
    llm = make_llm()

    text = await llm.aask("What is six times seven?", ["You are terse."])

    assert text == "Forty-two."
    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is six times seven?"},
        ],
        "max_tokens": 4096,
        "temperature": 0.0,
    }
    assert_one_call_recorded(llm, 1200, 300)


async def test_stream_delivers_deltas_in_order_and_charges_the_final_usage_chunk(openai_server, make_llm):
    pieces = ["Once", " upon", " a", " time", "."]
    openai_server.plan(answer(chunks=pieces, usage=usage(321, 5)))
    llm = make_llm()
    deltas: list[str] = []
    llm.stream_sink = deltas.append

    text = await llm.aask("Tell a story.", stream=True)

    assert text == "Once upon a time."
    assert deltas == [*pieces, "\n"]  # every delta, in order, then the closing newline
    body = openai_server.bodies[0]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert_one_call_recorded(llm, 321, 5)


async def test_stream_without_reported_usage_is_counted_with_tiktoken(openai_server, make_llm):
    openai_server.plan(answer("Counted locally, token by token.", report_usage=False))
    llm = make_llm()

    text = await llm.aask("Count me.", stream=True)

    assert text == "Counted locally, token by token."
    messages = openai_server.bodies[0]["messages"]
    assert_one_call_recorded(llm, count_message_tokens(messages, MODEL), count_text_tokens(text, MODEL))


# -- errors and retries --------------------------------------------------------------------------


async def test_rate_limit_is_retried_after_retry_after_and_charged_once(openai_server, make_llm):
    openai_server.plan(
        error(429, "Rate limit reached.", type="requests", code="rate_limit_exceeded", headers=RETRY_NOW),
        answer("done", usage=usage(50, 10)),
    )
    llm = make_llm()

    assert await llm.aask("hello") == "done"

    assert [r.status for r in openai_server.requests] == [429, 200]
    openai_server.assert_complete()
    assert openai_server.bodies[0] == openai_server.bodies[1]
    assert_one_call_recorded(llm, 50, 10)


async def test_authentication_error_is_raised_without_retry(openai_server, make_llm):
    openai_server.plan(error(401, "Incorrect API key provided: sk-test.", code="invalid_api_key"))
    llm = make_llm()

    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY") as raised:
        await llm.aask("hello")

    assert not raised.value.retryable
    assert len(openai_server.requests) == 1
    assert llm.cost_manager.total.calls == 0
    assert llm.cost_manager.remaining == llm.cost_manager.max_budget  # the reservation was released


async def test_server_errors_are_retried_until_success(openai_server, make_llm):
    failure = error(500, "The server had an error processing your request.", type="server_error", headers=RETRY_NOW)
    openai_server.plan(failure, failure, answer("third time lucky", usage=usage(40, 4)))
    llm = make_llm()

    assert await llm.aask("hello") == "third time lucky"

    assert [r.status for r in openai_server.requests] == [500, 500, 200]
    openai_server.assert_complete()
    assert_one_call_recorded(llm, 40, 4)


async def test_server_errors_give_up_after_max_retries(openai_server, make_llm):
    failure = error(503, "The engine is currently overloaded.", type="server_error", headers=RETRY_NOW)
    openai_server.plan(failure, failure, failure)
    llm = make_llm(max_retries=1)

    with pytest.raises(ProviderError, match="503") as raised:
        await llm.aask("hello")

    assert raised.value.retryable
    assert len(openai_server.requests) == 2  # the first try and one retry
    assert len(openai_server.planned) == 1
    assert llm.cost_manager.total.calls == 0


async def test_exhausted_quota_is_not_retried(openai_server, make_llm):
    openai_server.plan(
        error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            type="insufficient_quota",
            code="insufficient_quota",
            headers=RETRY_NOW,
        )
    )
    llm = make_llm()

    with pytest.raises(ProviderError, match="no quota left") as raised:
        await llm.aask("hello")

    assert not raised.value.retryable
    assert len(openai_server.requests) == 1


async def test_slow_endpoint_times_out_with_a_hint(openai_server, make_llm):
    def slow(body: dict[str, Any]):
        time.sleep(0.5)
        return answer("too late")

    openai_server.plan(slow)
    llm = make_llm(timeout=0.1, max_retries=0)

    with pytest.raises(
        ProviderError, match=r"timed out: no complete answer within TIMEOUT=0\.1s; raise TIMEOUT"
    ) as raised:
        await llm.aask("hello")

    assert raised.value.retryable
    assert len(openai_server.requests) == 1
    # the endpoint may bill an answer we never read: it is charged at the worst case reserved for it
    counted = count_message_tokens(llm.messages("hello"), MODEL)
    assert llm.cost_manager.total.calls == 1
    assert llm.cost_manager.total_cost == pytest.approx(dollars(prompt_allowance(counted), llm.config.max_tokens))


async def test_unknown_model_is_a_config_error(openai_server, make_llm):
    openai_server.plan(error(404, "The model `gpt-4o-mini` does not exist.", code="model_not_found"))
    llm = make_llm()

    with pytest.raises(ConfigError, match="OPENAI_API_MODEL"):
        await llm.aask("hello")

    assert len(openai_server.requests) == 1


async def test_unreachable_endpoint_says_what_to_check(allow_model_requests):
    with OpenAIServer() as stopped:
        base_url = stopped.base_url
    context = Context(openai_config(base_url, max_retries=0))
    try:
        with pytest.raises(ProviderError, match=r"Cannot reach .*OPENAI_BASE_URL") as raised:
            await LLM(context).aask("hello")
    finally:
        await context.aclose()
    assert raised.value.retryable
    assert context.cost_manager.total.calls == 0


# -- structured output ---------------------------------------------------------------------------


async def test_aask_model_sends_a_strict_json_schema(openai_server, make_llm):
    openai_server.plan(answer(ADA_JSON))
    llm = make_llm()

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA

    response_format = openai_server.bodies[0]["response_format"]
    assert response_format["type"] == "json_schema"
    spec = response_format["json_schema"]
    assert (spec["name"], spec["strict"]) == ("Person", True)
    schema = spec["schema"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name", "age", "addresses"]
    assert schema["properties"]["addresses"]["items"] == {"$ref": "#/$defs/Address"}
    address = schema["$defs"]["Address"]
    assert address["additionalProperties"] is False
    assert address["required"] == ["city", "zip_code"]


async def test_invalid_answers_are_fed_back_until_valid(openai_server, make_llm):
    not_json = '{"name": "Ada", "age": '
    missing_age = json.dumps({"name": "Ada", "addresses": []})
    openai_server.plan(answer(not_json), answer(missing_age), answer(ADA_JSON))
    llm = make_llm()

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA

    first, second, third = (body["messages"] for body in openai_server.bodies)
    assert second[: len(first)] == first
    assert second[len(first) :][0] == {"role": "assistant", "content": not_json}
    feedback = second[len(first) :][1]
    assert feedback["role"] == "user"
    assert "invalid" in feedback["content"]
    assert "not valid JSON" in feedback["content"]
    assert third[: len(second)] == second
    assert third[-2] == {"role": "assistant", "content": missing_age}
    assert "invalid" in third[-1]["content"]
    assert "age" in third[-1]["content"]
    assert formats(openai_server) == ["json_schema"] * 3
    openai_server.assert_complete()
    assert llm.cost_manager.total.calls == 3  # every attempt is paid for


async def test_model_behavior_error_after_max_format_retries(openai_server, make_llm):
    openai_server.plan(*(answer("no JSON here") for _ in range(3)))
    llm = make_llm(max_format_retries=2)

    with pytest.raises(ModelBehaviorError, match="Person after 3 attempts"):
        await llm.aask_model(PERSON_PROMPT, Person)

    assert len(openai_server.requests) == 3
    assert not openai_server.planned


def rejecting(*kinds: str, answers: list[str] | None = None):
    """A handler for an endpoint that rejects these `format_of` kinds with a 400.

    Accepted requests get `answers` in turn (the last one repeats), `ADA_JSON` by default.
    """
    queue = list(answers or [ADA_JSON])

    def handle(body: dict[str, Any]):
        kind = format_of(body)
        if kind in kinds:
            message = f"Invalid parameter: 'response_format' of type '{kind}' is not supported."
            return error(400, message, param="response_format")
        return answer(queue.pop(0) if len(queue) > 1 else queue[0])

    return handle


async def test_rejected_json_schema_falls_back_to_json_object_and_is_remembered(openai_server, make_llm):
    openai_server.handler = rejecting("json_schema")
    llm = make_llm()

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA
    assert formats(openai_server) == ["json_schema", "json_object+schema"]
    assert [r.status for r in openai_server.requests] == [400, 200]
    attached = openai_server.bodies[1]["response_format"]["schema"]
    assert attached == openai_server.bodies[0]["response_format"]["json_schema"]["schema"]

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA
    assert await make_llm().aask_model(PERSON_PROMPT, Person) == ADA  # another company, same endpoint
    assert formats(openai_server)[2:] == ["json_object+schema", "json_object+schema"]  # no new rejection
    assert openai_api._endpoint_modes == {(openai_server.base_url, MODEL): "json_object_schema"}
    assert llm.cost_manager.total.calls == 2  # the rejected request is not a call


async def test_rejected_schema_extension_falls_back_to_plain_json_object(openai_server, make_llm):
    openai_server.handler = rejecting("json_schema", "json_object+schema")
    llm = make_llm()

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA
    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA

    assert formats(openai_server) == ["json_schema", "json_object+schema", "json_object", "json_object"]
    assert openai_api._endpoint_modes == {(openai_server.base_url, MODEL): "json_object"}


async def test_endpoint_without_structured_output_falls_back_to_the_prompt(openai_server, make_llm):
    fenced = f"Here is the person:\n```json\n{ADA_JSON}\n```\nAnything else?"
    incomplete = '{"name": "Ada"}'
    openai_server.handler = rejecting("json_schema", "json_object+schema", "json_object", answers=[incomplete, fenced])
    llm = make_llm()

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA

    assert formats(openai_server) == ["json_schema", "json_object+schema", "json_object", None, None]
    last = openai_server.bodies[-1]["messages"]
    assert last[-2] == {"role": "assistant", "content": incomplete}  # still validated and fed back
    assert "invalid" in last[-1]["content"]
    assert "age: Field required" in last[-1]["content"]
    assert openai_api._endpoint_modes[(openai_server.base_url, MODEL)] == "prompt"

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA
    assert formats(openai_server)[5:] == [None]  # straight to the prompt-only mode


async def test_other_bad_requests_are_not_mistaken_for_format_rejections(openai_server, make_llm):
    openai_server.plan(
        error(400, "This model's maximum context length is 128000 tokens. Please reduce the length of the messages.")
    )
    llm = make_llm()

    with pytest.raises(ProviderError, match="maximum context length") as raised:
        await llm.aask_model(PERSON_PROMPT, Person)

    assert not raised.value.retryable
    assert formats(openai_server) == ["json_schema"]
    assert openai_api._endpoint_modes == {}


# -- budget --------------------------------------------------------------------------------------


async def test_budget_is_checked_before_the_request_is_sent(openai_server, make_llm):
    llm = make_llm(max_budget=0.0001, max_tokens=1000)
    messages = llm.messages("Write a long essay.")
    worst_case = dollars(prompt_allowance(count_message_tokens(messages, MODEL)), 1000)
    assert worst_case > 0.0001

    with pytest.raises(NoMoneyException, match=r"spent \$0\.0000 of \$0\.0001") as raised:
        await llm.aask("Write a long essay.")

    assert openai_server.requests == []
    assert raised.value.estimate == pytest.approx(worst_case, rel=1e-12)
    assert llm.cost_manager.total.calls == 0


async def test_budget_stops_the_call_that_could_overspend(openai_server, make_llm):
    """The first call fits; what is left after paying for it cannot cover the second's worst case."""
    max_tokens = 1000
    probe = make_llm(max_tokens=max_tokens)
    worst_case = dollars(count_message_tokens(probe.messages("Write a long essay."), MODEL), max_tokens)
    budget = 1.5 * worst_case
    openai_server.plan(answer("An essay.", usage=usage(20, 800)), answer("never sent"))
    llm = make_llm(max_budget=budget, max_tokens=max_tokens)

    assert await llm.aask("Write a long essay.") == "An essay."
    with pytest.raises(NoMoneyException):
        await llm.aask("Write a long essay.")

    assert len(openai_server.requests) == 1
    assert llm.cost_manager.total_cost == pytest.approx(dollars(20, 800), rel=1e-12)
    assert llm.cost_manager.total_cost <= budget


async def test_budget_holds_when_the_endpoint_bills_the_schema_and_the_answer_hits_max_tokens(openai_server, make_llm):
    """OpenAI bills the strict schema it adds to the prompt; the budget must still never be exceeded."""
    max_tokens = 500
    probe = make_llm(max_tokens=max_tokens)
    prompt = f"{PERSON_PROMPT}\n\n{format_instructions(Person)}"
    counted = count_message_tokens(probe.messages(prompt), MODEL)
    reserved_schema = schema_tokens(Person.model_json_schema(), MODEL)
    worst_case = dollars(prompt_allowance(counted + reserved_schema), max_tokens)
    budget = worst_case * (1 + 1e-9)  # exactly one worst-case call fits, schema included

    def billed_with_schema(body: dict[str, Any]):
        schema_tokens = count_text_tokens(json.dumps(body["response_format"]["json_schema"]["schema"]), MODEL)
        cut_off = ADA_JSON[: len(ADA_JSON) // 2]  # the answer ran into max_tokens
        return answer(cut_off, usage=usage(counted + schema_tokens, max_tokens), finish_reason="length")

    openai_server.plan(billed_with_schema)
    llm = make_llm(max_budget=budget, max_tokens=max_tokens)

    with pytest.raises(NoMoneyException):  # the retry after the cut-off answer cannot be paid for
        await llm.aask_model(PERSON_PROMPT, Person)

    assert len(openai_server.requests) == 1
    assert llm.cost_manager.total_cost <= budget
