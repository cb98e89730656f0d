"""Hostile endpoints: trickles held past TIMEOUT, answers that are not completions, bodies cut short."""

from __future__ import annotations

import time

import pytest

from metagpt.config import Config
from metagpt.context import Context
from metagpt.exceptions import ProviderError
from metagpt.llm import LLM
from metagpt.provider.openai_api import is_loopback
from tests.e2e.openai_server import answer, error
from tests.robustness import hostile
from tests.robustness.conftest import API_KEY, IDEA, error_lines, invoke


async def ask(server, stream: bool = False, **settings) -> str:
    config = Config(openai_base_url=server.base_url, openai_api_key=API_KEY, openai_api_model="gpt-4o-mini", **settings)
    context = Context(config)
    try:
        return await LLM(context, stream_sink=lambda delta: None).aask("hello", stream=stream)
    finally:
        await context.aclose()


@pytest.mark.parametrize("stream", [False, True])
async def test_a_trickling_server_cannot_hold_a_request_past_timeout(server, stream):
    """One byte every 0.2 s never trips a read time-out; the request's deadline ends it at TIMEOUT."""
    server.plan(hostile.trickle(stream=stream))
    started = time.monotonic()

    with pytest.raises(ProviderError, match=r"timed out: no complete answer within TIMEOUT=1s") as raised:
        await ask(server, stream=stream, timeout=1, max_retries=0)

    assert 0.9 < time.monotonic() - started < 3
    assert raised.value.retryable
    assert len(server.requests) == 1


async def test_each_retry_gets_its_own_deadline_and_a_later_answer_wins(server):
    server.plan(hostile.trickle(), answer("finally"))
    started = time.monotonic()

    assert await ask(server, timeout=1, max_retries=1) == "finally"

    assert time.monotonic() - started < 4
    assert len(server.requests) == 2


def test_cli_trickle_ends_with_exit_4_and_one_line(server, tmp_path):
    server.plan(hostile.trickle())

    result = invoke(server, tmp_path / "ws", IDEA, TIMEOUT="1", MAX_RETRIES="0")

    assert result.exit_code == 4, result.output
    assert len(error_lines(result.output)) == 1
    assert "timed out: no complete answer within TIMEOUT=1s" in result.output
    project = tmp_path / "ws" / "command_line_snake_game"
    assert result.output.rstrip().endswith(f"Files written so far are in {project.resolve()}")
    assert "Traceback" not in result.output


BROKEN = {
    "html page": (hostile.html_page, "not a chat completion (str <!doctype html><html><body><h1>Welcome"),
    "invalid json": (hostile.invalid_json, "not a valid chat completion"),
    "no choices": (hostile.no_choices, "not a chat completion (no choices)"),
    "cut body": (hostile.cut_body, "the connection closed before the answer was complete"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_cli_broken_answer_ends_with_exit_4_and_one_line(server, tmp_path, case):
    make, message = BROKEN[case]
    server.plan(make())

    result = invoke(server, tmp_path / "ws", IDEA, MAX_RETRIES="0")

    assert result.exit_code == 4, result.output
    [line] = error_lines(result.output)
    assert message in line
    assert "Cannot reach" not in line
    assert "Files written so far are in" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", BROKEN)
@pytest.mark.parametrize("stream", [False, True])
async def test_broken_answers_are_retried_like_server_errors(server, case, stream):
    server.plan(BROKEN[case][0](), answer("recovered"))

    assert await ask(server, stream=stream, max_retries=1) == "recovered"


def test_endpoint_text_reaches_the_terminal_without_escape_sequences(server, tmp_path):
    server.plan(error(400, "bad \x1b]0;PWNED\x07\x1b[2Jrequest"))

    result = invoke(server, tmp_path / "ws", IDEA)

    assert result.exit_code == 4
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "rejected the request (400: bad request)" in result.output


def test_a_key_echoed_back_by_the_server_is_masked(server, tmp_path):
    server.plan(error(401, f"Incorrect API key provided: {API_KEY}."))

    result = invoke(server, tmp_path / "ws", IDEA, "-v")

    assert result.exit_code == 4
    assert API_KEY not in result.output
    assert "Incorrect API key provided: ***." in result.output


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost:11434/v1", True),
        ("http://LOCALHOST./v1", True),
        ("http://127.0.0.1:8000/v1", True),
        ("http://127.1.2.3/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://[::ffff:127.0.0.1]:8000/v1", True),
        ("http://0.0.0.0:8000/v1", True),
        ("http://127.evil.net/v1", False),
        ("http://localhost.evil.net/v1", False),
        ("http://128.0.0.1/v1", False),
        ("https://api.openai.com/v1", False),
        ("http://[::ffff:8.8.8.8]/v1", False),
        ("http://[bad/v1", False),
    ],
)
def test_is_loopback_goes_by_address_not_by_prefix(url, loopback):
    assert is_loopback(url) is loopback
