"""Running untrusted code: limits hold, the run always returns, nothing leaks in."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from metagpt.utils.sandbox import Limits, RunResult, run_untrusted

PY = sys.executable
FAST = Limits(timeout=10, cpu_seconds=10, memory_bytes=512 << 20, file_size_bytes=1 << 20, output_bytes=2_000)


def _alive(pid: int) -> bool:
    """True if `pid` runs; a zombie (killed, not yet reaped by PID 1) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


async def _wait_gone(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_passing_command_runs_in_cwd(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("hello")
    result = await run_untrusted([PY, "-c", "print(open('data.txt').read())"], tmp_path, FAST)
    assert result.ok
    assert result.returncode == 0 and not result.timed_out
    assert result.stdout == "hello\n"
    assert result.stderr == ""
    assert result.command == [PY, "-c", "print(open('data.txt').read())"]
    assert result.describe().startswith("passed in ")


async def test_failing_command_reports_exit_code_and_stderr(tmp_path: Path) -> None:
    result = await run_untrusted([PY, "-c", "import sys; sys.exit('boom')"], tmp_path, FAST)
    assert not result.ok
    assert result.returncode == 1
    assert "boom" in result.stderr
    assert result.describe() == "exit code 1"


async def test_missing_program_is_exit_127(tmp_path: Path) -> None:
    result = await run_untrusted(["no-such-program-xyz"], tmp_path, FAST)
    assert result.returncode == 127
    assert result.describe() == "command not found: no-such-program-xyz"


async def test_output_is_truncated_keeping_head_and_tail(tmp_path: Path) -> None:
    code = "import sys\nprint('FIRST')\nsys.stdout.write('x' * 5_000_000)\nprint()\nprint('LAST')"
    result = await run_untrusted([PY, "-c", code], tmp_path, FAST)
    assert result.ok
    assert result.stdout.startswith("FIRST\n")
    assert result.stdout.endswith("LAST\n")
    assert "bytes cut ...]" in result.stdout
    assert len(result.stdout) < 2_000 + 100


async def test_sleeping_forever_is_killed_on_timeout(tmp_path: Path) -> None:
    start = time.monotonic()
    result = await run_untrusted([PY, "-c", "import time; time.sleep(1000)"], tmp_path, Limits(timeout=0.5))
    assert time.monotonic() - start < 3
    assert result.timed_out and not result.ok
    assert result.returncode is None
    assert result.describe() == "killed after 0.5s (timeout)"


async def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    open('child.pid', 'w').write(str(os.getpid()))\n"
        "    time.sleep(1000)\n"
        "time.sleep(1000)\n"
    )
    result = await run_untrusted([PY, "-c", code], tmp_path, Limits(timeout=1))
    assert result.timed_out
    assert await _wait_gone(int((tmp_path / "child.pid").read_text()))


async def test_forked_child_does_not_hold_the_run(tmp_path: Path) -> None:
    code = (
        "import os, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    time.sleep(1000)\n"
        "    os._exit(0)\n"
        "open('child.pid', 'w').write(str(pid))\n"
        "print('parent done')\n"
    )
    start = time.monotonic()
    result = await run_untrusted([PY, "-c", code], tmp_path, FAST)
    assert time.monotonic() - start < 5
    assert result.ok and not result.timed_out
    assert result.stdout == "parent done\n"
    assert await _wait_gone(int((tmp_path / "child.pid").read_text()))


async def test_child_in_its_own_session_cannot_hold_the_pipes(tmp_path: Path) -> None:
    code = (
        "import os, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(30)\n"
        "    os._exit(0)\n"
        "open('child.pid', 'w').write(str(pid))\n"
    )
    start = time.monotonic()
    result = await run_untrusted([PY, "-c", code], tmp_path, FAST)
    pid = int((tmp_path / "child.pid").read_text())
    try:
        assert result.ok
        assert time.monotonic() - start < 5
    finally:
        os.kill(pid, signal.SIGKILL)


async def test_unbounded_allocation_hits_the_memory_limit(tmp_path: Path) -> None:
    code = "a = []\nwhile True:\n    a.append(bytearray(10_000_000))"
    result = await run_untrusted([PY, "-c", code], tmp_path, Limits(timeout=10, memory_bytes=200 << 20))
    assert not result.ok and not result.timed_out
    assert "MemoryError" in result.stderr
    assert "memory" in result.describe()


async def test_cpu_spin_hits_the_cpu_limit(tmp_path: Path) -> None:
    result = await run_untrusted([PY, "-c", "while True: pass"], tmp_path, Limits(timeout=20, cpu_seconds=1))
    assert not result.timed_out
    assert result.returncode == -signal.SIGXCPU
    assert result.describe() == "killed by SIGXCPU (CPU-time limit)"


async def test_huge_file_write_hits_the_file_size_limit(tmp_path: Path) -> None:
    code = "with open('big.bin', 'wb') as f:\n    for _ in range(100):\n        f.write(b'0' * (1 << 20))"
    result = await run_untrusted([PY, "-c", code], tmp_path, Limits(timeout=10, file_size_bytes=1 << 20))
    assert not result.ok
    assert (tmp_path / "big.bin").stat().st_size <= 1 << 20
    assert "file-size limit" in result.describe()


async def test_file_size_signal_is_named(tmp_path: Path) -> None:
    # `dd`, unlike Python, does not ignore SIGXFSZ: it dies of it.
    command = ["dd", "if=/dev/zero", "of=big.bin", "bs=1M", "count=5"]
    result = await run_untrusted(command, tmp_path, Limits(timeout=10, file_size_bytes=1 << 20))
    assert result.returncode == -signal.SIGXFSZ
    assert result.describe() == "exceeded the file-size limit (killed by SIGXFSZ)"


async def test_stdin_is_empty(tmp_path: Path) -> None:
    result = await run_untrusted([PY, "-c", "import sys; print(repr(sys.stdin.read()))"], tmp_path, FAST)
    assert result.stdout == "''\n"


async def test_parent_environment_does_not_leak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    monkeypatch.setenv("SOME_TOKEN", "tok-456")
    code = "import os; print(sorted(os.environ.items()))"
    result = await run_untrusted([PY, "-c", code], tmp_path, FAST, env={"PYTHONPATH": "src"})
    assert result.ok
    assert "sk-secret-123" not in result.stdout and "tok-456" not in result.stdout
    assert "OPENAI_API_KEY" not in result.stdout
    assert "('PYTHONPATH', 'src')" in result.stdout
    assert "('PYTHONDONTWRITEBYTECODE', '1')" in result.stdout
    home = os.path.expanduser("~")
    assert f"('HOME', '{home}')" not in result.stdout


async def test_runs_concurrently_without_blocking_the_loop(tmp_path: Path) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    start = time.monotonic()
    sleep = [PY, "-c", "import time; time.sleep(1.5)"]
    runs = [run_untrusted(sleep, tmp_path, FAST) for _ in range(2)]
    results: list[RunResult] = await asyncio.gather(*runs)
    elapsed = time.monotonic() - start
    task.cancel()
    assert all(r.ok for r in results)
    assert elapsed < 2.9  # one after the other would take 3 s or more
    assert ticks >= 10


async def test_cancelling_the_run_kills_the_program(tmp_path: Path) -> None:
    code = "import os, time\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(1000)"
    task = asyncio.create_task(run_untrusted([PY, "-c", code], tmp_path, FAST))
    deadline = time.monotonic() + 5
    while not (tmp_path / "pid").exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _wait_gone(int((tmp_path / "pid").read_text()))
