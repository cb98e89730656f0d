"""Fixtures of the agent tests: a short workspace, answers in the agent's shape, scripted models."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from metagpt.config import Config
from metagpt.context import Context
from metagpt.provider.fake import FakeProvider
from tests.environ import settings_free_environ

ROOT = Path(__file__).resolve().parents[2]
CLI = "from metagpt.cli import main; main()"
API_KEY = "sk-agent-test-0123456789abcdef"


@pytest.fixture
def workspace() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="ag"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def answer(*commands: tuple[str, dict], thought: str = "next step") -> str:
    """One answer: a thought and commands given as (name, args)."""
    calls = [{"command_name": name, "args": args} for name, args in commands]
    return json.dumps({"thought": thought, "commands": calls})


def make_context(workspace: Path, answers: list, **settings) -> tuple[Context, FakeProvider]:
    provider = FakeProvider(answers)
    config = Config(api_type="fake", workspace_path=workspace, **settings)
    return Context(config, provider=provider), provider


def run_cli(server, workspace: Path, *args: str, stdin: str | None = None, timeout: float = 120, **env: str):
    """`metagpt agent ARGS` as its own process against the loopback server (the real openai SDK)."""
    environ = settings_free_environ()
    environ.update(
        OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=API_KEY, OPENAI_API_MODEL="gpt-4o-mini",
        WORKSPACE_PATH=str(workspace), PYTHONPATH=str(ROOT), MERMAID_ENGINE="none", **env,
    )  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", CLI, "agent", *args],
        input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, env=environ, timeout=timeout, cwd=workspace,
    )  # fmt: skip


def prompts(server) -> list[str]:
    """The user prompt of every chat request the server received."""
    return [r.body["messages"][-1]["content"] for r in server.requests if r.path.endswith("/chat/completions")]
