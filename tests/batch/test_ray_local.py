"""The Ray backend on a local cluster it starts itself: same projects as asyncio, nothing left behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from metagpt.batch import BatchOptions, run_batch
from metagpt.batch.ray_backend import RayBackend
from tests.batch.conftest import IDEAS, MAX_TOKENS, digests, loopback_config
from tests.e2e.openai_server import OpenAIServer, realistic_reply
from tests.e2e.test_resume import STARTUP, environ


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


def descendants(root: int) -> list[int]:
    """Every process below `root` (the raylet and what it starts are children of our driver)."""
    children: dict[int, list[int]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def listening_ports(pid: int) -> list[int]:
    """TCP ports process `pid` listens on."""
    listening = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                listening[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    ports = []
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in listening:
                    ports.append(listening[link[8:-1]])
    return ports


def dashboard_processes() -> dict[int, tuple[str, bytes]]:
    """Ray's dashboard processes below this one: pid -> (command line, environment)."""
    found = {}
    for pid in descendants(os.getpid()):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
            if argv[0].startswith("ray::Dashboard") or (len(argv) > 1 and argv[1].endswith("/dashboard.py")):
                found[pid] = (" ".join(argv), Path(f"/proc/{pid}/environ").read_bytes())
    return found


async def test_six_ideas_on_ray_make_the_asyncio_projects_serve_no_dashboard_and_leave_nothing_behind(
    openai_server, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # metagpt's own tiktoken cache
    real_ray_dir = Path(os.path.expanduser("~")) / ".ray"  # now the empty home's
    config = loopback_config(openai_server.base_url)

    local = await run_batch(IDEAS, workers=2, config=config, workspace=tmp_path / "asyncio")
    seen: list[dict[int, tuple[str, bytes]]] = []

    def handler(body):
        if not seen:  # Ray is up and a company runs: what dashboard processes are there?
            seen.append({pid: (cmd, env) for pid, (cmd, env) in dashboard_processes().items()})
            seen.append({pid: listening_ports(pid) for pid in seen[0]})
        return realistic_reply(body)

    openai_server.handler = handler
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
    assert "RAY_AUTH_TOKEN" not in os.environ and "RAY_USAGE_STATS_ENABLED" not in os.environ
    # Ray 2.60 always starts a head `dashboard.py` and a per-node `ray::DashboardAgent` (the raylet
    # refuses to run without one); we start them without the web UI: neither listens on any port,
    # and the head, which would report usage to Ray, runs with usage stats off.
    processes, ports = seen
    names = [cmd.split()[0] if cmd.startswith("ray::") else Path(cmd.split()[1]).name for cmd, _ in processes.values()]
    commands = sorted(names)
    assert commands == ["dashboard.py", "ray::DashboardAgent"], processes
    # (The head is what reports usage; the agent's retitled process no longer shows its environment.)
    head, environment = next((cmd, env) for cmd, env in processes.values() if "dashboard.py" in cmd)
    assert "--disable-frontend" in head and "--modules-to-load=UsageStatsHead" in head
    assert b"RAY_USAGE_STATS_ENABLED=0" in environment.split(b"\0")
    assert ports == {pid: [] for pid in processes}
    print(f"ray: {seconds:.1f}s for 6 companies, start-up {backend.startup_seconds:.1f}s")


def test_ctrl_c_stops_every_company_keeps_their_files_and_shuts_down_our_ray(allow_model_requests, tmp_path):
    """A real SIGINT to the process group of a real `metagpt batch --backend ray`, as a terminal sends it."""
    home = tmp_path / "home"
    home.mkdir()
    scratch = Path(tempfile.mkdtemp(prefix="mgb-", dir="/tmp"))  # Ray's socket paths must stay short
    try:
        _interrupt_and_resume(tmp_path, home, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # our own folder


def _interrupt_and_resume(tmp_path: Path, home: Path, scratch: Path) -> None:
    ideas = tmp_path / "ideas.txt"
    ideas.write_text("\n".join(IDEAS[:4]))
    busy = threading.Event()

    def handler(body):
        if len(server.requests) >= 8:
            busy.set()  # both companies are well into their work
        time.sleep(0.2)
        return realistic_reply(body)

    with OpenAIServer(handler) as server:
        env = environ(server, MAX_TOKENS=str(MAX_TOKENS), HOME=str(home), TMPDIR=str(scratch))
        env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
        command = [sys.executable, str(STARTUP), "batch", str(ideas), "--backend", "ray", "--workers", "2"]
        process = subprocess.Popen(
            [*command, "--workspace", "out"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not busy.wait(0.5) and process.poll() is None and time.monotonic() < deadline:
                pass
            assert busy.is_set(), process.stderr.read()[-3000:] if process.poll() is not None else "no start"
            sent = len(server.requests)
            os.killpg(process.pid, signal.SIGINT)
            _, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stray = processes_mentioning(str(scratch))
        deadline = time.monotonic() + 15
        while stray and time.monotonic() < deadline:
            time.sleep(0.3)
            stray = processes_mentioning(str(scratch))
        for line in stray:  # ours, by pid: fail the test, but leave nothing running
            with contextlib.suppress(OSError):
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
        assert stray == [], stray
        assert process.returncode == 130, stderr[-3000:]
        assert "Interrupted: every project keeps its files" in stderr
        assert "--resume" in stderr and len(server.requests) <= sent + 4  # stopped, not run to the end
        projects = sorted(p for p in (tmp_path / "out").iterdir() if p.is_dir())
        assert len(projects) == 2  # the two that ran, sent back to the driver; the others never started
        for project in projects:
            assert (project / "docs" / "prd.json").is_file() and (project / ".metagpt").is_dir()
        assert list(scratch.iterdir()) == []  # Ray's session folder and the workers' scratch are gone
        assert list(home.iterdir()) == []

        resumed = subprocess.run(  # on asyncio: the files kept are what counts (and it spares a Ray start)
            [*command[:4], "--workers", "2", "--workspace", "out", "--resume"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert resumed.stderr.count("] done") == 4
    assert processes_mentioning(str(scratch)) == []
