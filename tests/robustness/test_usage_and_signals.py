"""A server lying about usage cannot push spend past the investment; signals end a run like Ctrl-C."""

from __future__ import annotations

import signal
import time

import pytest
from loguru import logger

from metagpt.config import Config
from metagpt.context import Context
from metagpt.cost_manager import TOKEN_PRICES
from metagpt.llm import LLM
from metagpt.utils.token_counter import count_text_tokens
from tests.e2e.openai_server import realistic_reply
from tests.robustness import hostile
from tests.robustness.conftest import API_KEY, IDEA, invoke, spawn


def dollars(prompt: int, completion: int) -> float:
    price = TOKEN_PRICES["gpt-4o-mini"]
    return (prompt * price.prompt + completion * price.completion) / 1e6


@pytest.mark.parametrize(
    ("prompt", "completion", "problem"),
    [
        (20, 200_000, "has 200000 completion tokens where max_tokens is 4096"),
        (-5_000, -100, "is negative"),
        (10_000_000, 10, "tokens where the prompt and max_tokens allow"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_impossible_usage_is_replaced_by_our_count_with_a_warning(server, prompt, completion, problem, stream):
    server.plan(hostile.lying_usage(prompt, completion, text="Forty-two."))
    config = Config(openai_base_url=server.base_url, openai_api_key=API_KEY, openai_api_model="gpt-4o-mini")
    context = Context(config)
    llm = LLM(context, role="Tester", stream_sink=lambda delta: None)
    messages: list[str] = []
    sink = logger.add(messages.append, level="WARNING", format="{message}")
    try:
        assert await llm.aask("What is 6*7?", stream=stream) == "Forty-two."
    finally:
        logger.remove(sink)
        await context.aclose()

    ours = (context.provider.count_tokens(llm.messages("What is 6*7?")), count_text_tokens("Forty-two.", "gpt-4o-mini"))
    total = context.cost_manager.total
    assert (total.prompt_tokens, total.completion_tokens) == ours
    assert total.cost == pytest.approx(dollars(*ours))
    assert any(problem in m and "charging our own count" in m for m in messages)


@pytest.mark.parametrize(("prompt", "completion"), [(60, 4096), (2000, 100)])
async def test_usage_the_request_could_produce_is_charged_as_reported(server, prompt, completion):
    """A different tokenizer or template may count more prompt tokens than we do; that is no lie."""
    server.plan(hostile.lying_usage(prompt, completion))
    context = Context(Config(openai_base_url=server.base_url, openai_api_key=API_KEY))
    try:
        await LLM(context, stream_sink=lambda d: None).aask("hi")
    finally:
        await context.aclose()

    total = context.cost_manager.total
    assert (total.prompt_tokens, total.completion_tokens) == (prompt, completion)


def test_cli_spend_stays_within_the_investment_when_the_server_inflates_usage(server, tmp_path):
    """Every answer claims 200000 completion tokens ($0.12 each at gpt-4o-mini prices)."""

    def inflate(body):
        reply = realistic_reply(body)
        reply.usage = {"prompt_tokens": 10, "completion_tokens": 200_000, "total_tokens": 200_010}
        return reply

    server.handler = inflate

    result = invoke(server, tmp_path / "ws", IDEA, "--investment", "0.1")

    assert result.exit_code == 0, result.output
    assert "Spent $0.0" in result.output and "of $0.1000" in result.output
    assert "completion tokens where max_tokens is 4096; charging our own count" in result.output


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_a_signal_ends_the_run_with_a_message_the_summary_and_the_files_kept(server, tmp_path, name, code):
    server.plan(realistic_reply, hostile.trickle())  # the PRD arrives, the design never does
    process = spawn(server, tmp_path, IDEA)
    deadline = time.monotonic() + 30
    while len(server.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.requests) == 2, "the run never asked for the design"
    started = time.monotonic()

    process.send_signal(getattr(signal, name))
    _, stderr = process.communicate(timeout=30)

    assert time.monotonic() - started < 10
    text = stderr.decode()
    assert process.returncode == code, text
    root = (tmp_path / "workspace" / "command_line_snake_game").resolve()
    assert f"Interrupted by {name}." in text
    assert f"Project: {root}\n" in text
    assert "Spent $" in text
    assert text.rstrip().endswith(f"Files written so far are in {root}")
    assert "Traceback" not in text
    assert (root / "docs" / "prd.md").is_file()
