"""`api_type: anthropic` over the real `anthropic` SDK against a loopback Messages API server:
answers, structured output, prompt caching, errors, retries and what each call is charged."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from loguru import logger
from pydantic import BaseModel

import metagpt.provider
from metagpt.actions.write_code import CODE_STOP
from metagpt.context import Context
from metagpt.cost_manager import TOKEN_PRICES
from metagpt.exceptions import AuthenticationError, ConfigError, ProviderError
from metagpt.llm import LLM
from metagpt.provider.anthropic_api import AnthropicProvider
from metagpt.provider.base import ModelRequest, prompt_allowance
from metagpt.utils.structured import format_instructions
from metagpt.utils.token_counter import count_message_tokens, count_text_tokens
from tests.loopback import llm_maker
from tests.providers.anthropic_server import (
    API_KEY,
    MODEL,
    RETRY_NOW,
    AnthropicServer,
    answer,
    anthropic_config,
    api_key,
    dollars,
    error,
    malformed_event,
    malformed_json,
    raw_reply,
    usage,
)

LONG_SYSTEM = "Keep it short and do it well. " * 200
"""A system prompt above Sonnet's caching minimum (1601 tokens by our count, 1500 by the server's)."""


class Person(BaseModel):
    name: str
    age: int


ADA = Person(name="Ada", age=36)
ADA_JSON = ADA.model_dump_json()
PERSON_PROMPT = f"Describe Ada Lovelace.\n{format_instructions(Person)}"


def worst_case(llm: LLM, prompt: str) -> float:
    """What the budget reserves for `prompt`: the most prompt tokens trusted, at the dearest prompt
    price (a cache write), and `max_tokens` of answer."""
    price = TOKEN_PRICES[MODEL]
    counted = prompt_allowance(count_message_tokens(llm.messages(prompt), MODEL))
    return (counted * price.cache_write + llm.config.max_tokens * price.completion) / 1_000_000


def assert_charged(llm: LLM, *usages: dict[str, int], extra: float = 0.0) -> None:
    """What the calls cost is exactly the reported usages (plus `extra`), and nothing stays reserved."""
    costs = llm.cost_manager
    prompt = sum(u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"] for u in usages)
    completion = sum(u["output_tokens"] for u in usages)
    assert (costs.total.prompt_tokens, costs.total.completion_tokens) == (prompt, completion)
    assert costs.total_cost == pytest.approx(sum(dollars(u) for u in usages) + extra, rel=1e-12)
    assert costs.remaining == pytest.approx(costs.max_budget - costs.total_cost, rel=1e-12)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicServer]:
    """A running loopback server (realistic answers unless a test plans others), with real model
    requests allowed for it; every request it received must have been one the API accepts."""
    monkeypatch.setattr(metagpt.provider, "ALLOW_MODEL_REQUESTS", True)
    with AnthropicServer() as running:
        yield running
    assert not running.errors, f"the test server failed: {running.errors}"


@pytest.fixture
async def make_llm(server: AnthropicServer) -> AsyncIterator[Callable[..., LLM]]:
    async with llm_maker(lambda **settings: anthropic_config(server.base_url, **settings)) as make:
        yield make


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    messages: list[str] = []
    sink = logger.add(messages.append, level="WARNING", format="{message}")
    yield messages
    logger.remove(sink)


# -- answers, streamed or not --------------------------------------------------------------------


async def test_plain_answer_is_one_messages_request_charged_as_reported(server, make_llm):
    server.plan(answer("Forty-two.", usage=usage(1200, 300)))
    llm = make_llm()

    assert await llm.aask("What is six times seven?", ["You are terse."]) == "Forty-two."

    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert api_key(request.headers) == API_KEY
    assert request.headers["anthropic-version"]
    assert request.body == {
        "model": MODEL,
        "max_tokens": 4096,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "What is six times seven?"}],
        **({"temperature": 0.0} if llm.provider.sends_temperature else {}),
    }
    assert_charged(llm, usage(1200, 300))
    assert llm.cost_manager.by_model[MODEL].calls == 1


async def test_streamed_answer_arrives_delta_by_delta_and_is_charged_as_reported(server, make_llm):
    pieces = ["Once", " upon", " a", " time", "."]
    server.plan(answer(chunks=pieces, usage=usage(321, 5)))
    llm = make_llm()
    deltas: list[str] = []
    llm.stream_sink = deltas.append

    assert await llm.aask("Tell a story.", stream=True) == "Once upon a time."

    assert deltas == [*pieces, "\n"]
    assert server.bodies[0]["stream"] is True
    assert_charged(llm, usage(321, 5))


@pytest.mark.parametrize("stream", [False, True])
async def test_an_answer_without_usage_is_counted_with_tiktoken(server, make_llm, stream):
    text = "Counted locally, token by token."
    server.plan(answer(text, report_usage=False))
    llm = make_llm()

    await llm.aask("Count me.", stream=stream)

    total = llm.cost_manager.total
    prompt = count_message_tokens(llm.messages("Count me."), MODEL)
    assert (total.prompt_tokens, total.completion_tokens) == (prompt, count_text_tokens(text))


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("stop_reason", "finish"), [("end_turn", "stop"), ("max_tokens", "length"), ("refusal", "content_filter")]
)
async def test_stop_reason_becomes_the_finish_reason(server, stream, stop_reason, finish):
    server.plan(answer("Half an answ", stop_reason=stop_reason))
    provider = AnthropicProvider(anthropic_config(server.base_url))
    request = ModelRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=64)
    try:
        if stream:
            response = [chunk async for chunk in provider.stream(request)][-1].response
        else:
            response = await provider.complete(request)
    finally:
        await provider.aclose()
    assert (response.text, response.finish_reason) == ("Half an answ", finish)


# -- the request's shape -------------------------------------------------------------------------


async def test_the_request_body_has_what_the_messages_api_requires(server):
    provider = AnthropicProvider(anthropic_config(server.base_url))
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": "An earlier answer."},
        {"role": "user", "content": "First question."},
        {"role": "user", "content": "Second question."},
        {"role": "system", "content": "Use Python."},
        {"role": "assistant", "content": "A draft."},
    ]
    server.plan(answer("def f():\n    return 1\n```\nThat is all."))
    request = ModelRequest(messages=messages, max_tokens=321, temperature=0.7, stop=[*CODE_STOP, "  "])
    try:
        response = await provider.complete(request)
    finally:
        await provider.aclose()

    body = server.bodies[0]  # the server also checked alternation, roles, max_tokens (a 400 otherwise)
    assert body["system"] == "Be brief.\n\nUse Python."
    assert body["messages"] == [
        {"role": "user", "content": "Continue."},
        {"role": "assistant", "content": "An earlier answer."},
        {"role": "user", "content": "First question.\n\nSecond question."},
        {"role": "assistant", "content": "A draft."},
        {"role": "user", "content": "Continue."},  # answered as a new turn, as a chat completion is
    ]
    assert body["max_tokens"] == 321
    assert body["stop_sequences"] == CODE_STOP  # a whitespace-only sequence is refused by the API: left out
    assert body.get("temperature") == (0.7 if provider.sends_temperature else None)
    assert (response.text, response.finish_reason) == ("def f():\n    return 1", "stop")


@pytest.mark.parametrize("stream", [False, True])
async def test_structured_output_is_a_forced_call_of_a_tool_with_the_schema(server, make_llm, stream):
    server.plan(answer(ADA_JSON))
    llm = make_llm()

    assert await llm.aask_model(PERSON_PROMPT, Person, stream=stream) == ADA

    body = server.bodies[0]
    [tool] = body["tools"]
    assert (tool["name"], tool["input_schema"]) == ("Person", Person.model_json_schema())
    assert body["tool_choice"] == {"type": "tool", "name": "Person", "disable_parallel_tool_use": True}
    assert "response_format" not in body
    assert llm.cost_manager.total.calls == 1


async def test_an_invalid_tool_input_is_fed_back_in_alternating_turns(server, make_llm):
    server.plan(answer(json.dumps({"name": "Ada"})), answer(ADA_JSON))
    llm = make_llm()

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA

    second = server.bodies[1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[1]["content"] == json.dumps({"name": "Ada"})  # the tool input, as JSON text
    assert "age: Field required" in second[2]["content"]


# -- prompt caching ------------------------------------------------------------------------------


async def test_a_long_system_prompt_is_cached_and_its_reads_cost_less(server, make_llm):
    llm = make_llm()

    await llm.aask("First question.", [LONG_SYSTEM])
    await llm.aask("Second question.", [LONG_SYSTEM])

    cached = [{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}]
    assert [body["system"] for body in server.bodies] == [cached, cached]
    written, read = server.usages
    assert written["cache_creation_input_tokens"] == 1500 and written["cache_read_input_tokens"] == 0
    assert read["cache_read_input_tokens"] == 1500 and read["cache_creation_input_tokens"] == 0
    assert_charged(llm, written, read)
    assert dollars(read) < dollars(written) / 5


@pytest.mark.parametrize(
    ("model", "system", "cached"),
    [
        (MODEL, "You are terse.", False),
        ("claude-haiku-4-5", LONG_SYSTEM, False),  # Haiku caches from 2048 tokens on
        ("claude-haiku-4-5", LONG_SYSTEM * 2, True),
    ],
)
async def test_a_system_prompt_below_the_models_cache_minimum_is_sent_plain(server, model, system, cached):
    server.plan(answer("OK"))
    provider = AnthropicProvider(anthropic_config(server.base_url, openai_api_model=model))
    try:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": "hi"}]
        await provider.complete(ModelRequest(messages=messages, max_tokens=8))
    finally:
        await provider.aclose()
    sent = server.bodies[0]["system"]
    assert sent == ([{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}] if cached else system)


# -- errors and retries --------------------------------------------------------------------------


async def test_a_rate_limit_is_retried_after_the_time_retry_after_names(server, make_llm, warnings):
    limited = error(429, "Number of request tokens has exceeded your rate limit.", type="rate_limit_error")
    limited.headers = {"retry-after": "0.6"}  # longer than the first back-off (0.5 s)
    server.plan(limited, answer("done", usage=usage(50, 10)))
    llm = make_llm()
    started = time.monotonic()

    assert await llm.aask("hello") == "done"

    assert time.monotonic() - started >= 0.6
    assert [r.status for r in server.requests] == [429, 200]
    assert server.bodies[0] == server.bodies[1]
    assert any("is rate limiting" in m and "retry 1 in 0.6s" in m for m in warnings)
    assert_charged(llm, usage(50, 10))


@pytest.mark.parametrize(("status", "kind"), [(529, "overloaded_error"), (500, "api_error"), (503, "api_error")])
async def test_overload_and_server_errors_are_retried_until_success(server, make_llm, status, kind):
    failure = error(status, "Overloaded" if status == 529 else "Internal server error", type=kind, headers=RETRY_NOW)
    server.plan(failure, failure, answer("third time lucky", usage=usage(40, 4)))
    llm = make_llm()

    assert await llm.aask("hello") == "third time lucky"

    assert [r.status for r in server.requests] == [status, status, 200]
    assert_charged(llm, usage(40, 4))


async def test_an_overload_event_mid_stream_is_retried_and_billed(server, make_llm):
    overloaded = {"type": "overloaded_error", "message": "Overloaded"}
    server.plan(answer(chunks=["Once", " upon"], stream_error=overloaded), answer("Recovered.", usage=usage(40, 4)))
    llm = make_llm()

    assert await llm.aask("hello", stream=True) == "Recovered."

    assert len(server.requests) == 2
    # the broken answer may have been billed: it is charged at the worst case reserved for it
    assert_charged(llm, usage(40, 4), extra=worst_case(llm, "hello"))


@pytest.mark.parametrize(("status", "kind"), [(401, "authentication_error"), (403, "permission_error")])
async def test_a_refused_key_is_an_authentication_error_without_retry(server, make_llm, status, kind):
    server.plan(error(status, f"invalid x-api-key {API_KEY}", type=kind))
    llm = make_llm()

    with pytest.raises(AuthenticationError, match=r"refused the API key .* Check ANTHROPIC_API_KEY") as raised:
        await llm.aask("hello")

    assert API_KEY not in str(raised.value)
    assert len(server.requests) == 1
    assert llm.cost_manager.total.calls == 0
    assert llm.cost_manager.remaining == llm.cost_manager.max_budget


@pytest.mark.parametrize("wrong", ["model", "url"])
async def test_an_unknown_model_or_path_is_a_config_error(server, wrong):
    if wrong == "model":
        server.plan(error(404, f"model: {MODEL}", type="not_found_error"))
    base_url = server.base_url + ("/v1" if wrong == "url" else "")  # the SDK adds /v1 itself
    context = Context(anthropic_config(base_url))
    try:
        with pytest.raises(ConfigError, match=r"not found .* Check OPENAI_API_MODEL and ANTHROPIC_BASE_URL"):
            await LLM(context).aask("hello")
    finally:
        await context.aclose()
    assert [r.path for r in server.requests] == ["/v1/messages" if wrong == "model" else "/v1/v1/messages"]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (error(400, "Your credit balance is too low to access the Anthropic API."), "no credit left"),
        (error(402, "Payment required", type="billing_error"), "no credit left"),
        (error(400, "prompt is too long: 210000 tokens > 200000 maximum"), "does not fit the model's context window"),
        (error(400, "messages.0.content: Field required"), r"rejected the request \(400: messages.0.content"),
    ],
)
async def test_requests_the_api_will_not_answer_are_not_retried(server, make_llm, reply, message):
    server.plan(reply)
    llm = make_llm()

    with pytest.raises(ProviderError, match=message) as raised:
        await llm.aask("hello")

    assert not raised.value.retryable
    assert len(server.requests) == 1


async def test_a_slow_server_times_out_and_is_billed_at_the_worst_case(server, make_llm):
    def slow(body: dict[str, Any]):
        time.sleep(0.4)
        return answer("too late")

    server.plan(slow)
    llm = make_llm(timeout=0.1, max_retries=0)

    with pytest.raises(ProviderError, match=r"timed out: no complete answer within TIMEOUT=0\.1s") as raised:
        await llm.aask("hello")

    assert raised.value.retryable and raised.value.billable
    assert llm.cost_manager.total_cost == pytest.approx(worst_case(llm, "hello"), rel=1e-12)


@pytest.mark.parametrize(
    ("reply", "stream", "message"),
    [
        (answer(chunks=["Once", " upon", " a", " time"], cut_after=2, usage=usage(30, 6)), True, "before message_stop"),
        (raw_reply(b'{"id": "msg_1", "type": "mess', length=2000), False, "connection closed before the answer"),
        (malformed_json(), False, "not a Messages API message"),
        (malformed_event(), True, "not a Messages API message"),
    ],
    ids=["cut stream", "cut body", "malformed json", "malformed event"],
)
async def test_a_broken_answer_is_retryable_and_billed_within_the_reservation(server, make_llm, reply, stream, message):
    server.plan(reply)
    llm = make_llm(max_retries=0)

    with pytest.raises(ProviderError, match=message) as raised:
        await llm.aask("hello", stream=stream)

    assert raised.value.retryable and raised.value.billable
    reserved = worst_case(llm, "hello")
    assert llm.cost_manager.total_cost == pytest.approx(reserved, rel=1e-12)  # no more than was reserved
    assert reserved > dollars(usage(30, 6))  # and no less than the whole answer would have cost
    assert llm.cost_manager.remaining == pytest.approx(llm.cost_manager.max_budget - reserved, rel=1e-12)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("reported", "problem"),
    [
        (usage(20, 200_000), "has 200000 completion tokens where max_tokens is 4096"),
        (usage(-5_000, 10), "is negative"),
        (usage(10, 10, cache_read=-50), "is negative"),
        (usage(10_000_000, 10), "tokens where the prompt and max_tokens allow"),
    ],
)
async def test_impossible_usage_is_replaced_by_our_count(server, make_llm, warnings, stream, reported, problem):
    server.plan(answer("Forty-two.", usage=reported))
    llm = make_llm()

    assert await llm.aask("What is 6*7?", stream=stream) == "Forty-two."

    total = llm.cost_manager.total
    ours = (count_message_tokens(llm.messages("What is 6*7?"), MODEL), count_text_tokens("Forty-two."))
    assert (total.prompt_tokens, total.completion_tokens) == ours
    assert llm.cost_manager.total_cost <= worst_case(llm, "What is 6*7?")
    assert any(problem in m and "charging our own count" in m for m in warnings)
