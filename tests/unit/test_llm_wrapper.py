"""LLM: the provider wrapped once with format retries, error retries, budget, cost and streaming."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from metagpt.actions import PRD
from metagpt.config import Config
from metagpt.context import Context
from metagpt.exceptions import AuthenticationError, ModelBehaviorError, NoMoneyException, ProviderError
from metagpt.llm import DEFAULT_SYSTEM, FIX_FORMAT, LLM
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, StreamChunk, Usage
from metagpt.provider.fake import FakeProvider

VALID_PRD = {
    "original_requirements": "A snake game",
    "product_goals": ["Fun"],
    "user_stories": ["As a player I steer"],
    "competitive_analysis": ["nSnake: polished"],
    "competitive_quadrant_chart": "quadrantChart\n    title t",
    "requirement_analysis": "Loop and keys",
    "requirement_pool": [["Snake moves", "P0"]],
    "ui_design_draft": "A grid",
    "anything_unclear": "",
}


def make_llm(provider: Provider, role: str = "Tester", **settings) -> LLM:
    return LLM(Context(Config(api_type="fake", **settings), provider=provider), role=role)


class ScriptedProvider(Provider):
    """Plays `outcomes` in order: an exception is raised, a string is answered."""

    def __init__(self, outcomes: list[str | Exception], model: str = "gpt-4o", priced: bool = False):
        self.outcomes = list(outcomes)
        self.model = model
        self.priced = priced
        self.calls: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return ModelResponse(text=outcome, usage=Usage(prompt_tokens=1000, completion_tokens=100), model=self.model)


class StreamingProvider(ScriptedProvider):
    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        self.calls.append(request)
        for delta in ("Hel", "lo ", "world"):
            yield StreamChunk(delta=delta)
        yield StreamChunk(
            response=ModelResponse(text="Hello world", usage=Usage(prompt_tokens=5, completion_tokens=3), model="s")
        )


async def test_aask_returns_text_and_sends_default_system_prompt():
    provider = FakeProvider(["pong"])
    llm = make_llm(provider, max_tokens=512, temperature=0.2)

    assert await llm.aask("ping") == "pong"

    request = provider.calls[0]
    assert request.messages == [
        {"role": "system", "content": DEFAULT_SYSTEM},
        {"role": "user", "content": "ping"},
    ]
    assert (request.max_tokens, request.temperature, request.output_schema) == (512, 0.2, None)
    provider.assert_complete()


async def test_aask_with_system_messages():
    provider = FakeProvider(["ok"])

    await make_llm(provider).aask("task", system_msgs=["You are A.", "Be brief."])

    assert provider.calls[0].messages == [
        {"role": "system", "content": "You are A."},
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "task"},
    ]


async def test_completion_cap_of_provider_lowers_max_tokens():
    provider = FakeProvider(["ok"])
    provider.max_completion_tokens = 100

    await make_llm(provider, max_tokens=4096).aask("x")

    assert provider.calls[0].max_tokens == 100


async def test_aask_model_feeds_the_validation_error_back_and_succeeds():
    incomplete = json.dumps({"original_requirements": "A snake game"})
    provider = FakeProvider(["this is not json", incomplete, "```json\n" + json.dumps(VALID_PRD) + "\n```"])

    prd = await make_llm(provider).aask_model("Write the PRD", PRD)

    assert prd == PRD.model_validate(VALID_PRD)
    assert prd.requirement_pool[0].priority == "P0"
    assert len(provider.calls) == 3
    assert all(c.output_schema is not None and c.output_schema.name == "PRD" for c in provider.calls)
    second = provider.calls[1].messages
    assert second[:2] == provider.calls[0].messages
    assert second[2] == {"role": "assistant", "content": "this is not json"}
    assert second[3]["role"] == "user"
    assert second[3]["content"].startswith("That answer is invalid: the answer is not valid JSON")
    assert second[3]["content"].endswith(FIX_FORMAT)
    third = provider.calls[2].messages
    assert third[:4] == second
    assert third[4] == {"role": "assistant", "content": incomplete}
    assert "product_goals: Field required" in third[5]["content"]
    assert "original_requirements" not in third[5]["content"]  # only the real errors are fed back
    provider.assert_complete()


async def test_aask_model_gives_up_after_max_format_retries():
    provider = FakeProvider(["nope", "{}", "still nope"])

    with pytest.raises(ModelBehaviorError, match="did not return a valid PRD after 3 attempts") as info:
        await make_llm(provider, max_format_retries=2).aask_model("Write the PRD", PRD)

    assert info.value.exit_code == 5
    assert len(provider.calls) == 3
    provider.assert_complete()


async def test_zero_format_retries_means_one_attempt():
    provider = FakeProvider(["nope"])

    with pytest.raises(ModelBehaviorError, match="after 1 attempts"):
        await make_llm(provider, max_format_retries=0).aask_model("x", PRD)

    assert len(provider.calls) == 1


async def test_retryable_provider_error_is_retried():
    provider = ScriptedProvider([ProviderError("rate limited", retryable=True, retry_after=0), "done"])
    llm = make_llm(provider)

    assert await llm.aask("x") == "done"

    assert len(provider.calls) == 2
    assert provider.calls[0] == provider.calls[1]
    assert llm.cost_manager.by_role["Tester"].calls == 1


async def test_retries_stop_after_max_retries():
    errors = [ProviderError(f"overloaded {i}", retryable=True, retry_after=0) for i in range(3)]
    provider = ScriptedProvider([*errors, "never reached"])

    with pytest.raises(ProviderError, match=r"^overloaded 2$"):
        await make_llm(provider, max_retries=2).aask("x")

    assert len(provider.calls) == 3


@pytest.mark.parametrize(
    "error", [AuthenticationError("Invalid API key"), ProviderError("bad request", retryable=False)]
)
async def test_non_retryable_errors_are_raised_at_once(error):
    provider = ScriptedProvider([error, "never reached"])
    llm = make_llm(provider)

    with pytest.raises(type(error)) as info:
        await llm.aask("x")

    assert info.value is error
    assert len(provider.calls) == 1
    assert llm.cost_manager.total.calls == 0
    assert llm.cost_manager.remaining == llm.cost_manager.max_budget  # the reservation was released


async def test_budget_is_checked_before_the_provider_is_called():
    provider = ScriptedProvider(["never reached"], model="gpt-4o", priced=True)
    llm = make_llm(provider, max_budget=0.01, max_tokens=4096)  # worst case > $0.04

    with pytest.raises(NoMoneyException) as info:
        await llm.aask("x")

    assert provider.calls == []
    assert info.value.investment == 0.01
    assert info.value.estimate > 0.04
    assert llm.cost_manager.remaining == 0.01


async def test_priced_call_is_charged_to_the_role_and_model():
    provider = ScriptedProvider(["ok"], model="gpt-4o", priced=True)
    llm = make_llm(provider, role="Architect", max_budget=1.0)

    await llm.aask("x")

    expected = (1000 * 2.5 + 100 * 10.0) / 1_000_000
    assert llm.cost_manager.total_cost == pytest.approx(expected)
    assert llm.cost_manager.by_role["Architect"].cost == pytest.approx(expected)
    assert llm.cost_manager.by_model["gpt-4o"].calls == 1
    assert llm.cost_manager.remaining == pytest.approx(1.0 - expected)


async def test_concurrent_calls_cannot_together_overspend():
    release = asyncio.Event()

    class SlowPriced(ScriptedProvider):
        async def complete(self, request: ModelRequest) -> ModelResponse:
            self.calls.append(request)
            await release.wait()
            return ModelResponse(text="ok", usage=Usage(prompt_tokens=10, completion_tokens=10), model=self.model)

    provider = SlowPriced([], model="gpt-4o", priced=True)
    llm = make_llm(provider, max_budget=0.06, max_tokens=4096)  # one worst case (~$0.041) fits, two do not
    first = asyncio.create_task(llm.aask("one"))
    while not provider.calls:
        await asyncio.sleep(0)

    with pytest.raises(NoMoneyException):
        await llm.aask("two")

    release.set()
    assert await first == "ok"
    assert len(provider.calls) == 1


async def test_streaming_sends_deltas_to_the_sink():
    received: list[str] = []
    provider = StreamingProvider([])
    llm = LLM(Context(Config(api_type="fake"), provider=provider), stream_sink=received.append)

    assert await llm.aask("hi", stream=True) == "Hello world"

    assert received == ["Hel", "lo ", "world", "\n"]
    assert llm.cost_manager.total.completion_tokens == 3


async def test_stream_without_final_answer_is_a_retryable_error():
    class BrokenStream(ScriptedProvider):
        async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
            self.calls.append(request)
            yield StreamChunk(delta="partial")

    provider = BrokenStream([])
    llm = LLM(Context(Config(api_type="fake", max_retries=1), provider=provider), stream_sink=lambda _: None)

    with pytest.raises(ProviderError, match="stream ended without a final answer") as info:
        await llm.aask("x", stream=True)

    assert info.value.retryable
    assert len(provider.calls) == 2


async def test_aask_batch_keeps_the_conversation():
    provider = FakeProvider(["a1", "a2", "a3"])

    answer = await make_llm(provider).aask_batch(["q1", "q2", "q3"], system_msgs=["Be brief."])

    assert answer == "a1\na2\na3"
    system = {"role": "system", "content": "Be brief."}
    assert [c.messages for c in provider.calls] == [
        [system, {"role": "user", "content": "q1"}],
        [
            system,
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
        ],
        [
            system,
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "a2"},
            {"role": "user", "content": "q3"},
        ],
    ]


async def test_acompletion_passes_stop_sequences_and_returns_usage():
    provider = FakeProvider(["code"])

    response = await make_llm(provider).acompletion([{"role": "user", "content": "x"}], stop=["\n```\n"])

    assert provider.calls[0].stop == ["\n```\n"]
    assert response.text == "code"
    assert response.usage.completion_tokens > 0


async def test_two_llms_with_own_contexts_do_not_share_a_budget():
    first = make_llm(ScriptedProvider(["ok"], priced=True), max_budget=1.0)
    second = make_llm(ScriptedProvider(["ok"], priced=True), max_budget=1.0)

    await first.aask("x")

    assert first.cost_manager.total_cost > 0
    assert second.cost_manager.total_cost == 0
    assert first.cost_manager is not second.cost_manager
