"""The Ray backend on a local cluster it starts itself: same projects as asyncio, nothing left behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from metagpt.batch import BatchOptions, run_batch
from metagpt.batch.ray_backend import RayBackend
from tests.batch.conftest import IDEAS, digests, loopback_config


def processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{pid}: {cmdline[:200]}")
    return found


async def test_six_ideas_on_ray_make_the_asyncio_projects_and_leave_nothing_behind(
    openai_server, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # metagpt's own tiktoken cache
    real_ray_dir = Path(os.path.expanduser("~")) / ".ray"  # now the empty home's
    config = loopback_config(openai_server.base_url)

    local = await run_batch(IDEAS, workers=2, config=config, workspace=tmp_path / "asyncio")
    backend = RayBackend(BatchOptions())
    started = time.monotonic()
    on_ray = await run_batch(IDEAS, workers=2, backend=backend, config=config, workspace=tmp_path / "ray")
    seconds = time.monotonic() - started

    assert [r.status for r in on_ray] == ["done"] * 6
    assert [Path(r.project).parent for r in on_ray] == [tmp_path / "ray"] * 6  # sent back to the driver
    assert all(r.node for r in on_ray)
    assert digests(tmp_path / "ray") == digests(tmp_path / "asyncio")
    assert [r.calls for r in on_ray] == [r.calls for r in local]
    assert [r.cost for r in on_ray] == pytest.approx([r.cost for r in local])
    folder = backend.session_folder
    assert folder is not None and not folder.exists()  # its files and sockets are gone
    deadline = time.monotonic() + 10
    while processes_mentioning(str(folder)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(folder)) == []
    assert list(home.iterdir()) == [] and not real_ray_dir.exists()  # no token or file in the home folder
    assert "RAY_AUTH_TOKEN" not in os.environ
    print(f"ray: {seconds:.1f}s for 6 companies, start-up {backend.startup_seconds:.1f}s")
