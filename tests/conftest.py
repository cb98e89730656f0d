"""Test-wide guards: no real model requests, no user config or keys leaking in."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import metagpt.provider
import metagpt.render.engines
from metagpt.config import Config
from metagpt.provider import openai_api
from tests.e2e.openai_server import OpenAIServer
from tests.environ import SETTINGS_ENV


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setattr(metagpt.provider, "ALLOW_MODEL_REQUESTS", False)
    # The user's data folder (the experience pool's key): one per test, never the real one; the
    # processes a test starts inherit it.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("user-data")))
    # `MERMAID_ENGINE: auto` finds no engine, so tests start a browser only when they name an engine.
    monkeypatch.setattr(metagpt.render.engines, "AUTO_ORDER", ())
    # Which structured-output mode each endpoint accepted is remembered per process: forget it.
    monkeypatch.setattr(openai_api, "_endpoint_modes", {})
    for key in SETTINGS_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def allow_model_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let real providers run: for tests that start their own loopback server or local model."""
    monkeypatch.setattr(metagpt.provider, "ALLOW_MODEL_REQUESTS", True)


@pytest.fixture
def openai_server(allow_model_requests: None) -> Iterator[OpenAIServer]:
    """A running loopback server (realistic answers unless a test plans others)."""
    with OpenAIServer() as server:
        yield server
    assert not server.errors, f"the test server failed: {server.errors}"


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    """`openai_server`, under the shorter name most suites use."""
    return openai_server


@pytest.fixture
def fake_config(tmp_path) -> Config:
    return Config(api_type="fake", workspace_path=tmp_path / "workspace")


SERIAL_GROUPS = {
    # The company through llama_cpp.server on the real SmolLM2 model: the longest file, on its own.
    "tests/local/test_llama_server.py": "llama-server",
    # The other tests of the real model, in process: one after another (most use every core).
    "tests/local/": "real-model",
    # They find Ray's processes by name on the whole machine: never two at once.
    "tests/batch/test_ray_": "ray",
}
"""Files (by path prefix, the first match) whose tests share one unit of work under `make test`'s
workers; the units start in this order, before the others, as they are the longest."""


def work_unit(nodeid: str) -> str:
    """The unit of work of a test for the scheduler of `--dist loadgroup` below: its file, or its
    file's group in `SERIAL_GROUPS`. One unit runs on one worker, so a module's fixtures are set up once."""
    path = nodeid.split("::", 1)[0]
    return next((group for prefix, group in SERIAL_GROUPS.items() if path.startswith(prefix)), path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadgroup` grouping by `work_unit`.

    pytest-xdist's own loadgroup reads `xdist_group` marks through the tests' node ids, which
    pytest 9.2 no longer lets a plugin change, so it would silently spread a group over workers.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # hand units out in collection order, sorted below

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The groups of `SERIAL_GROUPS` first and in its order (the workers get units in this order);
    tests marked `slow` run only with RUN_SLOW=1."""
    groups = list(SERIAL_GROUPS.values())
    items.sort(key=lambda item: groups.index(unit) if (unit := work_unit(item.nodeid)) in groups else len(groups))
    if os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set RUN_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
