"""The OpenAI provider against a real third-party server: `python -m llama_cpp.server`.

llama_cpp.server rejects `response_format: json_schema` (422), so this also proves the
fallback to `json_object` with the schema attached, which it uses to constrain decoding. The
last test runs the whole company through the CLI against it, on SmolLM2-135M.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pydantic import BaseModel

from metagpt.config import Config
from metagpt.context import Context
from metagpt.llm import LLM
from metagpt.provider import openai_api
from tests.environ import settings_free_environ

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the 'server' extra"),
]


def _model_path() -> Path:
    from metagpt.provider.local_llama import default_model_path

    return default_model_path()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    port = _free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w")
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(_model_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "8192",
        "--model_alias",
        "smollm2",
        # One thread throughout (its default is half the cores for generation, all of them for the
        # prompt): the same answers for less CPU, and no slowdown when other tests share the cores.
        "--n_threads",
        "1",
        "--n_threads_batch",
        "1",
    ]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama_cpp.server did not start; see {log.name}") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture
def llm(server_url, allow_model_requests):
    config = Config(openai_base_url=server_url, openai_api_model="smollm2", max_tokens=160, max_format_retries=2)
    return LLM(Context(config), role="tester")


class Pet(BaseModel):
    name: str
    legs: int


async def test_plain_answer_and_usage(llm):
    answer = await llm.aask("Say hello.")
    assert answer.strip()
    record = llm.cost_manager.total
    assert record.calls == 1 and record.prompt_tokens > 0 and record.completion_tokens > 0
    assert llm.cost_manager.total_cost == 0  # unknown local model: counted, not priced


async def test_streaming_reports_usage(server_url, allow_model_requests):
    deltas: list[str] = []
    config = Config(openai_base_url=server_url, openai_api_model="smollm2", max_tokens=32)
    llm = LLM(Context(config), stream_sink=deltas.append)
    answer = await llm.aask("Count from one to five.", stream=True)
    assert len(deltas) > 2 and "".join(deltas).strip() == answer.strip()
    assert llm.cost_manager.total.completion_tokens > 0


async def test_rejected_json_schema_falls_back_to_schema_constrained_json(llm, server_url):
    pet = await llm.aask_model("Describe a dog as JSON with its name and number of legs.", Pet)
    assert isinstance(pet, Pet)
    assert openai_api._endpoint_modes[(server_url, "smollm2")] == "json_object_schema"
    again = await llm.aask_model("Describe a cat as JSON with its name and number of legs.", Pet)
    assert isinstance(again, Pet)
    assert llm.cost_manager.total.calls == 2  # the remembered mode needs no second rejection


def test_the_company_runs_to_the_end_on_smollm2_through_the_cli(server_url, tmp_path):
    """Exit 0 on a 135M model: its empty task list is repaired from the design's file list, and
    reviews whose verdicts stay invalid are skipped, not fatal."""
    startup = Path(__file__).resolve().parents[2] / "startup.py"
    env = settings_free_environ()
    env.update(
        OPENAI_BASE_URL=server_url,
        OPENAI_API_MODEL="smollm2",
        OPENAI_API_KEY="none",
        MAX_TOKENS="1024",
        WORKSPACE_PATH=str(tmp_path / "workspace"),
        MERMAID_ENGINE="none",
        TIMEOUT="600",
    )
    done = subprocess.run(
        [sys.executable, str(startup), "a command-line snake game", "--project-name", "snake"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=3000,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    root = tmp_path / "workspace" / "snake"
    tasks = json.loads((root / "docs/api_spec_and_tasks.json").read_text())
    assert tasks["task_list"]  # never empty: repaired from the design when the model leaves it so
    package = json.loads((root / "docs/system_design.json").read_text())["python_package_name"]
    written = sorted(p.name for p in (root / package).rglob("*") if p.is_file())
    assert written and all((root / package / name).stat().st_size for name in written)
    review = (root / "docs/code_review.md").read_text()
    # Every file written (the task list's and the design's) reviewed, or skipped with a reason.
    assert review.count("round 1:") == len(written) >= len(tasks["task_list"])
    assert "Traceback" not in done.stderr
