"""What bubblewrap adds: the policy as data, and what a sandboxed program can no longer reach."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from pathlib import Path

import pytest
from loguru import logger

import metagpt.sandbox as sandbox
from metagpt.exceptions import SandboxUnavailable
from metagpt.sandbox import Limits, run_sandboxed
from metagpt.sandbox.bwrap import bwrap_argv, unusable_reason
from metagpt.sandbox.policy import SANDBOX_HOME, make_policy
from tests.sandboxing import BWRAP, MODES

PY = sys.executable
LIMITS = Limits(timeout=20)


def test_policy_writes_only_the_work_folder_and_a_private_tmp(tmp_path: Path) -> None:
    policy = make_policy(tmp_path, env={"A": "1"})
    assert policy.writable() == ["/tmp", SANDBOX_HOME, str(tmp_path.resolve())]
    assert set(policy.namespaces) == {"user", "pid", "ipc", "uts", "cgroup", "net"}
    assert not policy.network and policy.env == {"A": "1"}
    ro = {m.dest for m in policy.mounts if m.kind == "ro"}
    assert "/etc" not in ro and os.path.expanduser("~") not in ro
    assert not any(m.dest.startswith("/etc/resolv") for m in policy.mounts)
    argv = bwrap_argv(policy)
    assert argv[:5] == ["bwrap", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    assert "--unshare-net" in argv and "--unshare-pid" in argv
    assert argv[-2:] == ["--chdir", str(tmp_path.resolve())]


@pytest.mark.isolated
def test_a_python_that_lives_under_tmp_still_runs_isolated(tmp_path: Path) -> None:
    """The private /tmp is mounted before Python's folders, so a venv under /tmp is not hidden."""
    if reason := unusable_reason():
        pytest.skip(f"no isolation: {reason}")
    import site
    import subprocess

    venv = tmp_path / "venv"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    path = os.pathsep.join([str(Path(__file__).parents[2]), *site.getsitepackages()])
    probe = "from metagpt.sandbox.bwrap import unusable_reason; print(repr(unusable_reason()))"
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "''", result.stdout + result.stderr


def test_network_is_a_separate_decision(tmp_path: Path) -> None:
    policy = make_policy(tmp_path, network=True)
    assert "net" not in policy.namespaces
    assert "--unshare-net" not in bwrap_argv(policy)


async def test_required_isolation_refuses_without_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.bwrap, "unusable_reason", lambda: "bwrap is not installed")
    with pytest.raises(SandboxUnavailable, match="make sandbox"):
        await run_sandboxed([PY, "-c", "pass"], tmp_path, LIMITS, mode="bwrap")


async def test_auto_without_bwrap_says_so_once_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.bwrap, "unusable_reason", lambda: "bwrap is not installed (test)")
    monkeypatch.setattr(sandbox, "_warned", set())
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        first = await run_sandboxed([PY, "-c", "print(1)"], tmp_path, LIMITS)
        second = await run_sandboxed([PY, "-c", "print(2)"], tmp_path, LIMITS)
    finally:
        logger.remove(sink)
    assert first.ok and second.ok and first.isolation == "none"
    assert len(lines) == 1 and "not isolated" in lines[0] and "make sandbox" in lines[0]


@pytest.mark.parametrize("mode", [BWRAP])
async def test_cannot_see_the_parents_processes_or_environment(tmp_path: Path, mode: str) -> None:
    code = (
        "import os\n"
        f"print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        f"print(os.path.exists('/proc/{os.getpid()}/environ'))\n"
    )
    result = await run_sandboxed([PY, "-c", code], tmp_path, LIMITS, mode=mode)
    assert result.ok, result.stderr
    pids, parent = result.stdout.splitlines()
    assert max(eval(pids)) < 10  # only the sandbox's own few processes
    assert parent == "False" or os.getpid() < 10


@pytest.mark.parametrize("mode", MODES)
async def test_host_loopback_services_are_out_of_reach(tmp_path: Path, mode: str) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[bool] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # closed unreached, as under isolation
            accepted.append(bool(server.accept()))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = (
        f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), 2)\n    print('reached')\n"
        "except OSError as e:\n    print('refused', e)"
    )
    try:
        result = await run_sandboxed([PY, "-c", code], tmp_path, LIMITS, mode=mode)
    finally:
        server.close()
    assert result.ok, result.stderr
    if mode == "bwrap":
        assert result.stdout.startswith("refused")
    else:  # without isolation nothing stops it: the README says so
        assert result.stdout == "reached\n"


@pytest.mark.parametrize("mode", [BWRAP])
async def test_cannot_write_or_read_outside_its_folder(tmp_path: Path, mode: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    secret = tmp_path / "key.yaml"
    secret.write_text("OPENAI_API_KEY: sk-outside-the-box-123456\n")
    outside = tmp_path / "outside.txt"
    code = (
        "import os\n"
        "for path in [{!r}, {!r}, '/usr/pwned', os.path.expanduser('~root') + '/pwned']:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('wrote', path)\n"
        "    except OSError as e:\n"
        "        print('denied', type(e).__name__)\n"
        "try:\n"
        "    print(open({!r}).read())\n"
        "except OSError as e:\n"
        "    print('unreadable', type(e).__name__)\n"
        "open('inside.txt', 'w').write('ok')\n"
    ).format(str(outside), str(tmp_path / "work2.txt"), str(secret))
    result = await run_sandboxed([PY, "-c", code], work, LIMITS, mode=mode)
    assert result.ok, result.stderr
    # Paths under /tmp land in the sandbox's private /tmp, which vanishes; others are refused.
    assert "wrote /usr" not in result.stdout and "pwned" not in result.stdout
    assert "sk-outside" not in result.stdout
    assert "unreadable" in result.stdout
    assert not outside.exists() and not (tmp_path / "work2.txt").exists()
    assert (work / "inside.txt").read_text() == "ok"


KERNEL = """
import os, socket, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
server = socket.socket(socket.AF_UNIX)
server.bind("kernel.sock")
server.listen(1)
while True:
    connection, _ = server.accept()
    request = connection.recv(1024).decode()
    pids = len([p for p in os.listdir('/proc') if p.isdigit()])
    connection.sendall(f"{request} from pid-namespace-size {pids}".encode())
    connection.close()
"""


@pytest.mark.parametrize("mode", MODES)
async def test_a_long_lived_process_talks_over_a_unix_socket_and_dies_with_its_children(
    tmp_path: Path, mode: str
) -> None:
    import asyncio

    async with sandbox.SandboxedProcess([PY, "-c", KERNEL], tmp_path, mode=mode) as kernel:
        assert kernel.running and kernel.isolated == (mode == "bwrap")
        sock = tmp_path / "kernel.sock"
        for _ in range(100):
            if sock.exists():
                break
            await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(b"hello")
        await writer.drain()
        reply = (await reader.read()).decode()
        writer.close()
        assert reply.startswith("hello from")
        if mode == "bwrap":
            assert int(reply.split()[-1]) < 10  # it sees only its own processes
    result = kernel.result
    assert result is not None and not kernel.running
    assert not result.timed_out and result.returncode is None
    assert len(result.strays) == 1 and result.strays[0].startswith("python")  # its child, named


def test_sandbox_settings_show_their_source() -> None:
    from metagpt.config import Config

    config, sources = Config.load_with_sources(None, env={"SANDBOX": "bwrap"})
    lines = [line for line in config.describe(sources) if line.startswith("SANDBOX")]
    assert lines == ["SANDBOX = bwrap  [environment variable SANDBOX]", "SANDBOX_NETWORK = False  [default]"]
