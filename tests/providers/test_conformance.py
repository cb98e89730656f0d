"""One suite every provider passes, through its real SDK against a loopback server of its protocol.

Each protocol's own file tests what only it has (tool use and caching, Gemini's schema dialect,
Ollama's NDJSON); here the same behaviours are asked of all of them: a plain and a streamed
answer charged what the server reported, a structured answer that validates, the vendor's retry
signals honoured, a refused key stopping at once, and usage no request could produce replaced by
our own count within what the budget held.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from metagpt.config import Config
from metagpt.context import Context
from metagpt.cost_manager import lookup_price
from metagpt.exceptions import AuthenticationError
from metagpt.llm import LLM

TEXT = "The answer is forty-two."


class Verdict(BaseModel):
    verdict: str
    score: int


@dataclass
class Harness:
    """How to drive one protocol's loopback server."""

    name: str
    module: str
    server_class: str
    config: Callable[[Any], Config]
    usage: Callable[[int, int], dict[str, Any]]
    usage_field: str = "usage"
    model: str = ""

    def server(self) -> Any:
        return getattr(importlib.import_module(self.module), self.server_class)()

    def reply(self, text: str | None = None, prompt: int = 120, completion: int = 9, **kwargs: Any) -> Any:
        module = importlib.import_module(self.module)
        return module.answer(
            text if text is not None else TEXT, **{self.usage_field: self.usage(prompt, completion)}, **kwargs
        )

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Any:
        return importlib.import_module(self.module).error(status, message, headers=headers or {})


def _openai(server: Any) -> Config:
    return Config(openai_base_url=server.base_url, openai_api_key="sk-test", openai_api_model="gpt-4o-mini")


def _anthropic(server: Any) -> Config:
    from tests.providers.anthropic_server import anthropic_config

    return anthropic_config(server.base_url)


def _gemini(server: Any) -> Config:
    from tests.providers.gemini_server import gemini_config

    return gemini_config(server)


def _ollama(server: Any) -> Config:  # priced on purpose, so cost is checked too
    prices = {"llama3.2": {"prompt": 1.0, "completion": 2.0}}
    return Config(api_type="ollama", ollama_host=server.url, openai_api_model="llama3.2", model_prices=prices)


def _openai_usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


NO_CACHE = {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}

HARNESSES = [
    Harness("openai", "tests.e2e.openai_server", "OpenAIServer", _openai, _openai_usage, model="gpt-4o-mini"),
    Harness(
        "anthropic",
        "tests.providers.anthropic_server",
        "AnthropicServer",
        _anthropic,
        lambda p, c: {
            "input_tokens": p,
            "output_tokens": c,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
        model="claude-sonnet-4-5",
    ),
    Harness(
        "gemini",
        "tests.providers.gemini_server",
        "GeminiServer",
        _gemini,
        lambda p, c: {"promptTokenCount": p, "candidatesTokenCount": c},
        model="gemini-2.5-flash",
    ),
    Harness(
        "ollama",
        "tests.providers.ollama_server",
        "OllamaServer",
        _ollama,
        lambda p, c: {"prompt_eval_count": p, "eval_count": c},
        usage_field="counts",
        model="llama3.2",
    ),
]


@pytest.fixture(params=HARNESSES, ids=lambda h: h.name)
def harness(request, allow_model_requests) -> Iterator[tuple[Harness, Any]]:
    h: Harness = request.param
    with h.server() as server:
        yield h, server


async def ask(harness: Harness, server: Any, *, stream: bool = False, **settings: Any) -> tuple[str, LLM]:
    config = harness.config(server).model_copy(update=settings)
    context = Context(config)
    llm = LLM(context, role="Tester", stream_sink=lambda delta: None)
    try:
        return await llm.aask("What is the answer?", stream=stream), llm
    finally:
        await context.aclose()


def chats(server: Any) -> list[Any]:
    """The model requests the server received (not Ollama's one look-up of the model's window)."""
    return [r for r in server.requests if r.path != "/api/show"]


def dollars(harness: Harness, config: Config, prompt: int, completion: int) -> float:
    price = lookup_price(harness.model, config.model_prices)
    return (prompt * price.prompt + completion * price.completion) / 1_000_000


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_an_answer_is_charged_what_the_server_reported(harness, stream):
    h, server = harness
    server.plan(h.reply(prompt=120, completion=9))

    text, llm = await ask(h, server, stream=stream)

    assert text == TEXT
    costs = llm.cost_manager
    assert (costs.total.prompt_tokens, costs.total.completion_tokens, costs.total.calls) == (120, 9, 1)
    assert costs.total_cost == pytest.approx(dollars(h, llm.config, 120, 9), rel=1e-12) and costs.total_cost > 0
    assert costs.remaining == pytest.approx(costs.max_budget - costs.total_cost)  # nothing left held


async def test_a_structured_answer_validates(harness):
    h, server = harness
    server.plan(h.reply('{"verdict": "LGTM", "score": 9}', prompt=300, completion=12))
    context = Context(h.config(server))
    try:
        verdict = await LLM(context, role="Tester").aask_model("Review this.", Verdict)
    finally:
        await context.aclose()

    assert verdict == Verdict(verdict="LGTM", score=9)
    assert len(chats(server)) == 1


async def test_rate_limits_and_server_errors_are_retried_as_the_vendor_signals(harness):
    h, server = harness
    server.plan(h.error(429, "slow down", {"retry-after": "0"}), h.error(503, "overloaded", {"retry-after": "0"}))
    server.plan(h.reply())

    text, llm = await ask(h, server)

    assert text == TEXT
    assert [r.status for r in chats(server)] == [429, 503, 200]
    assert llm.cost_manager.total.calls == 1


async def test_a_refused_key_stops_at_once_and_costs_nothing(harness):
    h, server = harness
    server.plan(h.error(401, "invalid api key"))

    with pytest.raises(AuthenticationError) as info:
        await ask(h, server)

    assert len(chats(server)) == 1
    setting = {"ollama": "OLLAMA_HOST"}.get(h.name, f"{h.name.upper()}_API_KEY")
    assert "\n" not in str(info.value) and setting in str(info.value)


async def test_usage_no_request_could_produce_is_replaced_within_what_was_held(harness):
    h, server = harness
    server.plan(h.reply(prompt=5, completion=10_000))  # more completion than max_tokens allows

    _, llm = await ask(h, server, max_tokens=256)

    costs = llm.cost_manager
    assert costs.total.completion_tokens <= 256
    worst = costs.worst_case(h.model, costs.total.prompt_tokens, 256, llm.provider.priced)
    assert 0 < costs.total_cost <= worst
