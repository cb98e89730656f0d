"""Fixtures of the interpreter tests: a short workspace (Unix socket paths are short) and a scripted model."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from metagpt.config import Config
from metagpt.context import Context
from metagpt.provider.fake import FakeProvider

pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")


@pytest.fixture
def workspace() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="di"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def plan(*tasks: tuple[str, list[str], str]) -> str:
    """A plan answer: (id, dependencies, instruction) per task."""
    return json.dumps(
        {
            "tasks": [
                {"task_id": i, "dependent_task_ids": d, "instruction": s, "task_type": "other"} for i, d, s in tasks
            ]
        }
    )


def code(source: str) -> str:
    return f"Here is the code.\n```python\n{source}\n```\n"


def make_context(workspace: Path, answers: list, **settings) -> tuple[Context, FakeProvider]:
    provider = FakeProvider(answers)
    config = Config(api_type="fake", workspace_path=workspace, **settings)
    return Context(config, provider=provider), provider
