"""`api_type: anthropic` as a user sets it up: its settings, what a missing key or SDK says, the
CLI's one line for a refused key, and a whole company run through `startup.py`."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger
from typer.testing import CliRunner

import metagpt.provider
from metagpt.cli import app
from metagpt.config import Config
from metagpt.exceptions import ConfigError, ForbiddenInTests
from metagpt.provider import create_provider
from metagpt.provider.anthropic_api import AnthropicProvider
from metagpt.provider.base import ModelRequest
from tests.environ import settings_free_environ
from tests.providers.anthropic_server import API_KEY, MODEL, AnthropicServer, anthropic_config, dollars, error

IDEA = "a command-line snake game"
STARTUP = Path(__file__).resolve().parents[2] / "startup.py"


@pytest.fixture
def allow_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metagpt.provider, "ALLOW_MODEL_REQUESTS", True)


@pytest.fixture
def server(allow_requests: None) -> Iterator[AnthropicServer]:
    with AnthropicServer() as running:
        yield running
    assert not running.errors, f"the test server failed: {running.errors}"


# -- configuration -------------------------------------------------------------------------------


def test_the_provider_is_built_from_its_settings(allow_requests):
    provider = create_provider(anthropic_config("http://127.0.0.1:9", api_type="claude", openai_api_model="my-proxy"))
    assert isinstance(provider, AnthropicProvider)
    assert (provider.api_type, provider.model, provider.context_window) == ("anthropic", "my-proxy", 200_000)
    assert provider.priced is False  # a server on this machine with an unpriced model costs nothing
    assert AnthropicProvider(anthropic_config("http://127.0.0.1:9")).priced is True  # a priced model, proxied
    remote = AnthropicProvider(Config(api_type="anthropic", anthropic_api_key=API_KEY, context_window=1_000_000))
    assert (remote.base_url, remote.model, remote.context_window) == ("https://api.anthropic.com", MODEL, 1_000_000)


def test_a_missing_key_or_sdk_says_what_to_do(allow_requests, monkeypatch):
    with pytest.raises(ConfigError, match="set ANTHROPIC_API_KEY"):
        AnthropicProvider(Config(api_type="anthropic"))
    monkeypatch.setitem(sys.modules, "anthropic", None)
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[anthropic\]"'):
        AnthropicProvider(anthropic_config("http://127.0.0.1:9"))


def test_temperature_is_kept_in_the_range_the_api_accepts_where_it_takes_one(allow_requests):
    provider = AnthropicProvider(anthropic_config("http://127.0.0.1:9"))
    provider.sends_temperature = True  # an SDK of API version 2023-06-01
    request = ModelRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=10, temperature=1.5)
    assert provider.wire_request(request)["temperature"] == 1.0


async def test_requests_are_refused_while_model_requests_are_switched_off():
    with AnthropicServer() as stopped_by_guard:
        provider = AnthropicProvider(anthropic_config(stopped_by_guard.base_url))
        with pytest.raises(ForbiddenInTests):
            await provider.complete(ModelRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=8))
        await provider.aclose()
    assert stopped_by_guard.requests == []


# -- the CLI ------------------------------------------------------------------------------------


def test_cli_refused_key_prints_one_line_and_exits_4(server, tmp_path):
    server.plan(error(401, "invalid x-api-key", type="authentication_error"))
    env = {"API_TYPE": "anthropic", "ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": server.base_url}
    try:
        result = CliRunner().invoke(app, [IDEA], env={**env, "WORKSPACE_PATH": str(tmp_path)})
    finally:
        logger.remove()
        logger.add(sys.stderr)

    assert result.exit_code == 4, result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert "refused the API key (401: invalid x-api-key). Check ANTHROPIC_API_KEY." in line
    assert "Traceback" not in result.output
    assert len(server.requests) == 1


# -- the whole company, as a user runs it --------------------------------------------------------


def test_cli_run_on_anthropic_builds_the_project_and_journals_the_api_type(server, tmp_path):
    environ = settings_free_environ()
    environ.update(API_TYPE="anthropic", ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=server.base_url)
    result = subprocess.run(
        [sys.executable, str(STARTUP), IDEA],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert server.paths == ["/v1/messages"] * len(server.requests)
    assert all(r.status == 200 for r in server.requests)
    assert sum("tools" in body for body in server.bodies) >= 3  # the PRD, the design, the task list
    root = tmp_path / "workspace" / "cli_snake_game"
    for name in ("snake.py", "game.py", "main.py"):
        assert f"print({name!r})" in (root / "cli_snake_game" / name).read_text()
    usages = server.usages
    total, completion = sum(dollars(u) for u in usages), sum(u["output_tokens"] for u in usages)
    prompt = sum(u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"] for u in usages)
    summary = f"Spent ${total:.4f} of $3.0000 ({prompt} prompt + {completion} completion tokens, {len(usages)} calls)"
    assert summary in result.stderr
    with sqlite3.connect(root / ".metagpt" / "state.db") as db:
        rows = db.execute("SELECT api_type, model, status FROM calls").fetchall()
    assert len(rows) == len(server.requests)
    assert {row[:2] for row in rows} == {("anthropic", MODEL)}
