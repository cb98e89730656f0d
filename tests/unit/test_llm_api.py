"""MetaGPT's LLM surface: OpenAI-shaped completions, message forms, batches run concurrently."""

from __future__ import annotations

import asyncio

import pytest

from metagpt.context import Context
from metagpt.exceptions import NoMoneyException
from metagpt.llm import LLM
from metagpt.provider.base import ModelRequest, ModelResponse, Usage
from metagpt.provider.fake import FakeProvider
from metagpt.schema import AIMessage, UserMessage


class SlowProvider(FakeProvider):
    """Answers each prompt with itself after a pause, counting how many calls overlap."""

    priced = True

    def __init__(self) -> None:
        super().__init__(model="gpt-4o-mini")
        self.running = 0
        self.most_at_once = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls.append(request)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        return ModelResponse(
            text=request.messages[-1]["content"], usage=Usage(prompt_tokens=10, completion_tokens=5), model=self.model
        )


def llm_with(fake_config, provider) -> LLM:
    return LLM(Context(fake_config, provider=provider), role="Tester")


async def test_acompletion_reads_like_openai(fake_config):
    llm = llm_with(fake_config, FakeProvider(["hi there"]))

    rsp = await llm.acompletion([{"role": "user", "content": "hello"}])

    assert rsp.choices[0].message.content == "hi there" == llm.get_choice_text(rsp)
    assert rsp.choices[0].message.role == "assistant"
    assert rsp.usage.completion_tokens > 0


async def test_aask_accepts_messages_and_format_messages(fake_config):
    provider = FakeProvider(["ok"])
    llm = llm_with(fake_config, provider)

    await llm.aask(
        [UserMessage("q1"), AIMessage("a1"), "q2"], ["sys"], format_msgs=[{"role": "user", "content": "fmt"}]
    )

    assert provider.calls[0].messages == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "fmt"},
        {"role": "user", "content": "q2"},
    ]


async def test_aask_batch_is_one_conversation(fake_config):
    provider = FakeProvider(["a1", "a2"])
    llm = llm_with(fake_config, provider)

    assert await llm.aask_batch(["q1", "q2"]) == "a1\na2"

    assert [m["content"] for m in provider.calls[1].messages[1:]] == ["q1", "a1", "q2"]


async def test_completion_batches_run_concurrently_in_order(fake_config):
    provider = SlowProvider()
    llm = llm_with(fake_config, provider)
    batch = [[{"role": "user", "content": f"q{i}"}] for i in range(4)]

    texts = await llm.acompletion_batch_text(batch)

    assert texts == ["q0", "q1", "q2", "q3"]
    assert provider.most_at_once == 4
    assert llm.cost_manager.by_role["Tester"].calls == 4


async def test_completion_batch_stays_within_the_budget(fake_config):
    provider = SlowProvider()
    llm = llm_with(fake_config, provider)
    llm.cost_manager.max_budget = 0.0001  # enough for a few calls, not for a batch of 50
    batch = [[{"role": "user", "content": f"q{i}"}] for i in range(50)]

    with pytest.raises(NoMoneyException):
        await llm.acompletion_batch(batch)

    assert llm.cost_manager.total_cost <= 0.0001
    assert len(provider.calls) < 50
