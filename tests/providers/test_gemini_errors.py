"""The Gemini provider's errors over the real `google-genai` SDK against a loopback Gemini API:
retries and the delays the server asks, refused keys, unknown models, filtered answers, and
answers cut short, malformed or lying about usage, billed within what the budget reserved.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from loguru import logger

from metagpt.context import Context
from metagpt.exceptions import AuthenticationError, ConfigError, ProviderError
from metagpt.llm import LLM
from metagpt.provider.base import prompt_allowance
from metagpt.utils.token_counter import count_message_tokens, count_text_tokens
from tests.loopback import llm_maker
from tests.providers.gemini_server import (
    API_KEY,
    MODEL,
    RETRY_NOW,
    GeminiServer,
    answer,
    dollars,
    error,
    estimate_usage,
    gemini_config,
    malformed,
    quota_failure,
    retry_info,
    usage,
)


@pytest.fixture
def server(allow_model_requests: None) -> Iterator[GeminiServer]:
    with GeminiServer() as running:
        yield running
    assert not running.errors, f"the test server failed: {running.errors}"


@pytest.fixture
async def make_llm(server: GeminiServer) -> AsyncIterator[Callable[..., LLM]]:
    """`make_llm(**config)`: an `LLM` on the loopback server with its own context and budget."""
    async with llm_maker(lambda **settings: gemini_config(server, **settings)) as make:
        yield make


def worst_case(llm: LLM, prompt: str) -> float:
    """What the budget reserves for a plain `aask(prompt)`: the charge of an answer we never got whole."""
    counted = count_message_tokens(llm.messages(prompt), MODEL)
    return dollars(prompt_allowance(counted), llm.config.max_tokens)


# -- retries and refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        error(429, "Resource has been exhausted (e.g. check quota).", headers={"Retry-After": "0.3"}),
        error(429, "You exceeded your current quota.", details=[quota_failure("PerMinute"), retry_info("0.3s")]),
    ],
    ids=["retry-after", "retry-info"],
)
async def test_rate_limit_is_retried_after_the_delay_the_server_asks(server, make_llm, reply):
    server.plan(reply, answer("done", usage=usage(50, 10)))
    llm = make_llm()

    assert await llm.aask("hello") == "done"

    first, second = server.requests
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.3
    assert first.body == second.body
    assert llm.cost_manager.total_cost == pytest.approx(dollars(50, 10), rel=1e-12)


@pytest.mark.parametrize(
    ("status", "message"), [(503, "The model is overloaded. Please try again later."), (500, "An internal error.")]
)
async def test_overload_and_server_errors_are_retried_until_success(server, make_llm, status, message):
    failure = error(status, message, headers=RETRY_NOW)
    server.plan(failure, failure, answer("third time lucky", usage=usage(40, 4)))
    llm = make_llm()

    assert await llm.aask("hello") == "third time lucky"

    assert [r.status for r in server.requests] == [status, status, 200]
    assert llm.cost_manager.total.calls == 1


async def test_the_sdk_never_retries_on_its_own(server, make_llm):
    """Retries are `metagpt.llm.LLM`'s, within the budget: with MAX_RETRIES 0 an overload is sent once."""
    server.plan(error(503, "The model is overloaded.", headers=RETRY_NOW), answer("never asked"))

    with pytest.raises(ProviderError, match="503 UNAVAILABLE") as raised:
        await make_llm(max_retries=0).aask("hello")

    assert raised.value.retryable
    assert len(server.requests) == 1


async def test_daily_quota_exhausted_is_not_retried(server, make_llm):
    server.plan(
        error(429, "You exceeded your current quota.", details=[quota_failure("PerDayPerProject"), retry_info("0s")])
    )
    llm = make_llm()

    with pytest.raises(ProviderError, match="no quota left") as raised:
        await llm.aask("hello")

    assert not raised.value.retryable
    assert len(server.requests) == 1


SUSPENDED = error(403, "Permission denied: Consumer 'api_key:***' has been suspended.")


@pytest.mark.parametrize(
    ("key", "planned", "shown"),
    [("wrong-key", None, "400 INVALID_ARGUMENT: API key not valid"), (API_KEY, SUSPENDED, "403 PERMISSION_DENIED")],
    ids=["invalid-key", "permission-denied"],
)
async def test_a_refused_key_is_one_line_naming_the_variable_and_not_retried(server, make_llm, key, planned, shown):
    if planned is not None:
        server.plan(planned)
    llm = make_llm(gemini_api_key=key)

    with pytest.raises(AuthenticationError) as raised:
        await llm.aask("hello")

    message = str(raised.value)
    assert "Check GEMINI_API_KEY." in message and "\n" not in message
    assert shown in message
    assert len(server.requests) == 1
    assert llm.cost_manager.total.calls == 0
    assert llm.cost_manager.remaining == llm.cost_manager.max_budget


async def test_unknown_model_is_a_config_error(allow_model_requests):
    with GeminiServer(models={MODEL}) as server:
        context = Context(gemini_config(server, openai_api_model="gemini-9-ultra"))
        try:
            with pytest.raises(ConfigError, match="Check OPENAI_API_MODEL and GEMINI_BASE_URL") as raised:
                await LLM(context).aask("hello")
        finally:
            await context.aclose()
    assert "models/gemini-9-ultra is not found" in str(raised.value)
    assert len(server.requests) == 1


async def test_a_prompt_too_long_says_so_and_is_not_retried(server, make_llm):
    message = "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
    server.plan(error(400, message))

    with pytest.raises(ProviderError, match=r"does not fit the model's context window.*CONTEXT_WINDOW") as raised:
        await make_llm().aask("hello")

    assert not raised.value.retryable
    assert len(server.requests) == 1


@pytest.mark.parametrize("reason", ["SAFETY", "RECITATION"])
async def test_a_filtered_answer_is_a_clear_error_not_retried(server, make_llm, reason):
    server.plan(answer("", finish_reason=reason, usage=usage(30, 5)))
    llm = make_llm()

    with pytest.raises(
        ProviderError, match=rf"refused: the answer was stopped \({reason}\).*OPENAI_API_MODEL"
    ) as raised:
        await llm.aask("hello")

    assert not raised.value.retryable
    assert len(server.requests) == 1
    assert llm.cost_manager.total_cost == pytest.approx(worst_case(llm, "hello"))  # billed, at most as reserved


async def test_slow_endpoint_times_out_with_a_hint(server, make_llm):
    server.plan(lambda body: (time.sleep(0.5), answer("too late"))[1])
    llm = make_llm(timeout=0.1, max_retries=0)

    with pytest.raises(ProviderError, match=r"timed out: no complete answer within TIMEOUT=0\.1s") as raised:
        await llm.aask("hello")

    assert raised.value.retryable and raised.value.billable


async def test_unreachable_endpoint_says_what_to_check(allow_model_requests):
    with GeminiServer() as stopped:
        config = gemini_config(stopped, max_retries=0)
    context = Context(config)
    try:
        with pytest.raises(ProviderError, match=r"Cannot reach .*Check GEMINI_BASE_URL") as raised:
            await LLM(context).aask("hello")
    finally:
        await context.aclose()
    assert raised.value.retryable and not raised.value.billable


# -- answers cut short, malformed or lying: billed within the reservation ---------------------


@pytest.mark.parametrize(
    ("stream", "reply"),
    [
        (True, answer("Once upon a time, far away.", cut_after=2)),
        (False, malformed(b'{"candidates": [{"content": {"parts": [{"text": "Once', content_length=400)),
    ],
    ids=["stream-cut", "body-cut"],
)
async def test_an_answer_cut_short_is_charged_its_worst_case(server, make_llm, stream, reply):
    """The server may bill a whole answer we never got: charged what was reserved, never less."""
    server.plan(reply)
    llm = make_llm(max_retries=0)

    with pytest.raises(ProviderError, match="before the answer was complete") as raised:
        await llm.aask("Tell a story.", stream=stream)

    assert raised.value.retryable and raised.value.billable
    charged = llm.cost_manager.total_cost
    assert charged == pytest.approx(worst_case(llm, "Tell a story."), rel=1e-12)
    would_bill = estimate_usage(server.bodies[0], "Once upon a time, far away.")
    assert charged >= dollars(would_bill["promptTokenCount"], would_bill["candidatesTokenCount"])
    assert llm.cost_manager.remaining == pytest.approx(llm.cost_manager.max_budget - charged)


@pytest.mark.parametrize("stream", [False, True])
async def test_malformed_json_is_a_retryable_billable_error(server, make_llm, stream):
    garbage = malformed(b"data: {not json\r\n\r\n", content_type="text/event-stream") if stream else malformed(b"{not")
    server.plan(garbage, answer("fine", usage=usage(20, 2)))
    llm = make_llm()

    assert await llm.aask("hello", stream=stream) == "fine"

    assert len(server.requests) == 2
    assert llm.cost_manager.total.calls == 2  # the undecodable answer may have been billed: at its worst case
    assert llm.cost_manager.total_cost == pytest.approx(worst_case(llm, "hello") + dollars(20, 2), rel=1e-12)


@pytest.mark.parametrize("stream", [False, True])
async def test_lying_usage_is_replaced_by_our_count_within_the_reservation(server, make_llm, stream):
    server.plan(answer("Forty-two.", usage=usage(10, 200_000)))
    llm = make_llm()
    warnings: list[str] = []
    sink = logger.add(warnings.append, level="WARNING", format="{message}")
    try:
        assert await llm.aask("What is 6*7?", stream=stream) == "Forty-two."
    finally:
        logger.remove(sink)

    ours = (count_message_tokens(llm.messages("What is 6*7?"), MODEL), count_text_tokens("Forty-two.", MODEL))
    total = llm.cost_manager.total
    assert (total.prompt_tokens, total.completion_tokens) == ours
    assert total.cost == pytest.approx(dollars(*ours), rel=1e-12)
    assert total.cost <= worst_case(llm, "What is 6*7?")
    assert any("200000 completion tokens where max_tokens is 4096; charging our own count" in w for w in warnings)
