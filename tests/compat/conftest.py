"""Fixtures for running scripts written against MetaGPT's published API, unchanged."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.openai_server import OpenAIServer, Reply, answer, prompt_text

SCRIPTS = Path(__file__).parent / "scripts"
REPO = Path(__file__).resolve().parents[2]

CODE = (
    "```python\ndef product(xs):\n    r = 1\n    for x in xs:\n        r *= x\n    return r\n\n"
    "print(product([2, 3, 4]))\n```"
)
CREATED_AGENT = '```python\nfrom metagpt.roles import Role\n\n\nclass SimpleTester(Role):\n    name: str = "Bob"\n```'
TESTS = "```python\ndef test_product():\n    assert product([2, 3]) == 6\n```"


def tutorial_reply(request: dict[str, Any]) -> Reply:
    """Answers like a model would to the tutorials' prompts, naming who speaks in a debate."""
    last = str(request["messages"][-1]["content"])
    if "### EXAMPLE STARTS AT THIS LINE" in last:  # the agent creator
        return answer(CREATED_AGENT)
    if "Write a python function" in last:
        return answer(CODE)
    if "unit tests" in last:
        return answer(TESTS)
    if "Review the test cases" in last:
        return answer("Add a test for the empty list.")
    if "Check this code" in last:
        return answer("LGTM")
    speaker = re.search(r"Suppose you are (\w+)", last)
    if speaker:
        turn = prompt_text(request).count("says:") + 1
        return answer(f"{speaker.group(1)} says: argument {turn}.")
    return answer("Hello! How can I help?")


@pytest.fixture
def tutorial_server(allow_model_requests: None) -> Iterator[OpenAIServer]:
    with OpenAIServer(tutorial_reply) as server:
        yield server
    assert not server.errors


def run_script(name: str, server: OpenAIServer, cwd: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run `scripts/<name>` in a fresh interpreter configured only through the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "API_TYPE"))}
    env.update(
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="sk-test",
        OPENAI_API_MODEL="gpt-4o-mini",
        PYTHONPATH=str(REPO),
    )
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def lines(output: str, prefix: str) -> list[str]:
    return [line[len(prefix) + 1 :] for line in output.splitlines() if line.startswith(prefix + " ")]


@pytest.fixture
def loguru_caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """`caplog` that also sees loguru's records, as MetaGPT's own tests read them."""
    import logging

    from loguru import logger

    class ToLogging(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logging.getLogger(record.name).handle(record)

    handler = logger.add(ToLogging(), format="{message}")
    try:
        yield caplog
    finally:
        logger.remove(handler)
