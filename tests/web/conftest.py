"""`metagpt serve` as a user runs it: a real uvicorn process on a loopback port, whose runs
are the real CLI talking to the loopback OpenAI-compatible server the test starts."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed")
pytest.importorskip("uvicorn", reason="the web extra is not installed")
pytest.importorskip("nh3", reason="the web extra is not installed")

from tests.e2e.openai_server import OpenAIServer, realistic_reply
from tests.e2e.test_resume import environ

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class Step:
    kind: str
    id: str | None
    data: dict[str, Any]


class Served:
    """A running `metagpt serve` and a small HTTP client for it (raw paths, no normalising)."""

    def __init__(self, process: subprocess.Popen, line: str, workspace: Path):
        self.process, self.line, self.workspace = process, line, workspace
        self.url = line.removeprefix("Serving on ").strip()
        hostport = self.url.split("//", 1)[1].split("/", 1)[0]
        self.host, self.port = hostport.rsplit(":", 1)[0], int(hostport.rsplit(":", 1)[1])
        self.origin = f"http://{hostport}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str | None] | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        sent = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        if method != "GET":
            sent.setdefault("Origin", self.origin)
        sent = {key: value for key, value in sent.items() if value is not None}  # None: leave it out
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def get(self, path: str, **headers: str) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, body: Any = None, **headers: str) -> Answer:
        return self.request("POST", path, body=body if body is not None else {}, headers=headers)

    def events(
        self,
        name: str,
        last_id: str | None = None,
        until: Callable[[list[Step]], bool] | None = None,
        timeout: float = 90.0,
    ) -> list[Step]:
        """The steps of project `name` until `done` (or until `until(steps)` holds)."""
        headers = {"Host": f"{self.host}:{self.port}", "Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        steps: list[Step] = []
        try:
            connection.request("GET", f"/api/projects/{name}/events", headers=headers)
            response = connection.getresponse()
            assert response.status == 200, response.read()
            assert response.getheader("content-type", "").startswith("text/event-stream")
            kind, event_id, data = "message", None, []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                line = response.fp.readline()
                if not line:
                    break
                line = line.decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    steps.append(Step(kind, event_id, json.loads("\n".join(data))))
                    kind, event_id, data = "message", None, []
                    if steps[-1].kind == "done" or (until is not None and until(steps)):
                        return steps
            raise AssertionError(f"the stream of {name} did not end: {[s.kind for s in steps][-20:]}")
        finally:
            connection.close()

    def wait_done(self, name: str, timeout: float = 90.0) -> dict[str, Any]:
        steps = self.events(name, timeout=timeout)
        assert steps[-1].kind == "done"
        return steps[-1].data

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_serve(workspace: Path, env: dict[str, str], *args: str, cwd: Path | None = None) -> Served:
    """Start `python -m metagpt serve --port 0 ...` and wait for its one line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "metagpt", "serve", "--port", "0", "--workspace", str(workspace), *args],
        cwd=cwd or workspace.parent,
        env={**env, "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = process.stdout.readline()
    if not line.startswith("Serving on "):
        process.kill()
        raise AssertionError(f"serve did not start: {line!r} {process.stderr.read()[-3000:]}")
    return Served(process, line, workspace)


def slow(seconds: float) -> Callable[[dict[str, Any]], Any]:
    """`realistic_reply`, each answer `seconds` late (so a run can be watched and stopped)."""

    def reply(body: dict[str, Any]) -> Any:
        time.sleep(seconds)
        return realistic_reply(body)

    return reply


@pytest.fixture
def model() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server
    assert not server.errors, server.errors


@contextlib.contextmanager
def serving(tmp_path: Path, model: OpenAIServer, *args: str, **env: str) -> Iterator[Served]:
    """`metagpt serve ARGS` on `tmp_path/workspace`, its runs on `model`, with `env` added."""
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    served = start_serve(workspace, {**environ(model), **env}, *args, cwd=tmp_path)
    try:
        yield served
    finally:
        served.stop()
        _stop_children(workspace)


def _stop_children(workspace: Path) -> None:
    """Runs outlive their server by design: end the test's own (by the pids their journals hold)."""
    import sqlite3

    for db in workspace.glob("*/.metagpt/state.db"):
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
            pids = [row[0] for row in connection.execute("SELECT pid FROM runs WHERE status = 'running'")]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError, TypeError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def serve(tmp_path: Path, model: OpenAIServer) -> Iterator[Served]:
    """`metagpt serve` on a fresh workspace, its runs on the loopback model."""
    with serving(tmp_path, model) as served:
        yield served
