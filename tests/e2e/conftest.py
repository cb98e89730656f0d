"""End-to-end fixtures: a loopback OpenAI-compatible server and LLMs pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from metagpt.config import Config
from metagpt.llm import LLM
from tests.e2e.openai_server import OpenAIServer
from tests.loopback import llm_maker

MODEL = "gpt-4o-mini"
API_KEY = "sk-test"


def openai_config(base_url: str, **settings: Any) -> Config:
    """A config for `base_url` with the test key and a priced model."""
    return Config(**{"openai_base_url": base_url, "openai_api_key": API_KEY, "openai_api_model": MODEL, **settings})


@pytest.fixture
async def make_llm(openai_server: OpenAIServer) -> AsyncIterator[Callable[..., LLM]]:
    """`make_llm(**config)`: an `LLM` on the loopback server with its own context and budget."""
    async with llm_maker(lambda **settings: openai_config(openai_server.base_url, **settings)) as make:
        yield make
