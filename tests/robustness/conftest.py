"""Fixtures for probing the CLI as an adversarial user would: hostile servers, hostile input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from typer.testing import CliRunner, Result

from metagpt.actions import SystemDesign, Tasks
from metagpt.cli import app
from tests.e2e.openai_server import OpenAIServer, Reply, answer, realistic_reply, requested_document, sample_document
from tests.environ import settings_free_environ
from tests.robustness import hostile

IDEA = "a command-line snake game"
API_KEY = "sk-robust-0123456789abcdef"
STARTUP = Path(__file__).resolve().parents[2] / "startup.py"


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    hostile.released.clear()
    yield
    hostile.released.set()  # end any trickle still running
    logger.remove()
    logger.configure(patcher=None)
    logger.add(sys.stderr)


def company_handler(design: dict[str, Any] | None = None, files: list[str] | None = None) -> Callable:
    """Realistic answers, with the design's package and files (and the task list's) replaced."""

    def reply(body: dict[str, Any]) -> Reply:
        document = requested_document(body)
        if document is SystemDesign and design is not None:
            return answer(json.dumps(design))
        if document is Tasks and files is not None:
            return answer(json.dumps({**sample_document(Tasks), "task_list": files}))
        return realistic_reply(body)

    return reply


def cli_env(server: OpenAIServer, workspace: Path, **env: str) -> dict[str, str]:
    """Settings through the environment only, as a user exporting variables would."""
    settings = {
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_API_MODEL": "gpt-4o-mini",
        "WORKSPACE_PATH": str(workspace),
    }
    return {**settings, **env}


def invoke(server: OpenAIServer, workspace: Path, *args: str, **env: str) -> Result:
    """The CLI in process (fast), its stderr in `result.output`."""
    return CliRunner().invoke(app, [*args], env=cli_env(server, workspace, **env))


def spawn(server: OpenAIServer, cwd: Path, *args: str | bytes, **env: str) -> subprocess.Popen[bytes]:
    """`python startup.py ARGS` as its own process (for signals and raw argv bytes)."""
    environ = settings_free_environ()
    environ.update(cli_env(server, cwd / "workspace", **env))
    return subprocess.Popen(
        [sys.executable, str(STARTUP), *args], cwd=cwd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def files_under(root: Path) -> list[str]:
    files = (p for p in root.rglob("*") if p.is_file() or p.is_symlink())
    return sorted(
        str(p.relative_to(root))
        for p in files
        if not any(part.startswith(".git") for part in p.relative_to(root).parts)
    )
