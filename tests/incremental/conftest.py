"""Changing existing projects: the fixture project is data, never collected as tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from metagpt.provider import openai_api
from tests.e2e.openai_server import OpenAIServer

collect_ignore_glob = ["fixtures/*"]

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def _fresh_endpoint_modes() -> Iterator[None]:
    openai_api._endpoint_modes.clear()
    yield
    openai_api._endpoint_modes.clear()


@pytest.fixture
def server(allow_model_requests: None) -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running
    assert not running.errors, f"the test server failed: {running.errors}"
