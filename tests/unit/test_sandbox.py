"""Running untrusted code: limits hold, the run always returns, nothing leaks in, in both modes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from metagpt.sandbox import Limits, RunResult, run_sandboxed
from tests.sandboxing import MODES

PY = sys.executable
FAST = Limits(timeout=10, cpu_seconds=10, memory_bytes=512 << 20, file_size_bytes=1 << 20, output_bytes=2_000)
pytestmark = pytest.mark.parametrize("mode", MODES)

HEARTBEAT = (
    "def beat(path):\n"
    "    import time\n"
    "    while True:\n"
    "        with open(path, 'a') as f:\n"
    "            f.write('.')\n"
    "        time.sleep(0.05)\n"
)
"""A process that appends to a file every 50 ms: it is dead when the file stops growing.

Under bubblewrap pids are those of another namespace, so liveness is checked by its effect."""


async def _stops_growing(path: Path, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = path.stat().st_size if path.exists() else 0
        await asyncio.sleep(0.3)
        if (path.stat().st_size if path.exists() else 0) == before:
            return True
    return False


async def test_passing_command_runs_in_cwd(tmp_path: Path, mode: str) -> None:
    (tmp_path / "data.txt").write_text("hello")
    command = [PY, "-c", "print(open('data.txt').read())"]
    result = await run_sandboxed(command, tmp_path, FAST, mode=mode)
    assert result.ok
    assert result.returncode == 0 and not result.timed_out
    assert result.stdout == "hello\n"
    assert result.stderr == ""
    assert result.command == command
    assert result.isolation == mode
    assert result.strays == []
    assert result.describe().startswith("passed in ")


async def test_failing_command_reports_exit_code_and_stderr(tmp_path: Path, mode: str) -> None:
    result = await run_sandboxed([PY, "-c", "import sys; sys.exit('boom')"], tmp_path, FAST, mode=mode)
    assert not result.ok
    assert result.returncode == 1
    assert "boom" in result.stderr
    assert result.describe() == "exit code 1"


async def test_missing_program_is_exit_127(tmp_path: Path, mode: str) -> None:
    result = await run_sandboxed(["no-such-program-xyz"], tmp_path, FAST, mode=mode)
    assert result.returncode == 127
    assert result.describe() == "command not found: no-such-program-xyz"


async def test_output_is_truncated_keeping_head_and_tail(tmp_path: Path, mode: str) -> None:
    code = "import sys\nprint('FIRST')\nsys.stdout.write('x' * 5_000_000)\nprint()\nprint('LAST')"
    result = await run_sandboxed([PY, "-c", code], tmp_path, FAST, mode=mode)
    assert result.ok
    assert result.stdout.startswith("FIRST\n")
    assert result.stdout.endswith("LAST\n")
    assert "bytes cut ...]" in result.stdout
    assert len(result.stdout) < 2_000 + 100


async def test_sleeping_forever_is_killed_on_timeout(tmp_path: Path, mode: str) -> None:
    start = time.monotonic()
    result = await run_sandboxed([PY, "-c", "import time; time.sleep(1000)"], tmp_path, Limits(timeout=0.5), mode=mode)
    assert time.monotonic() - start < 3
    assert result.timed_out and not result.ok
    assert result.returncode is None
    assert result.describe() == "killed after 0.5s (timeout)"


async def test_timeout_kills_the_whole_group(tmp_path: Path, mode: str) -> None:
    code = HEARTBEAT + "import os, time\nif os.fork() == 0:\n    beat('child.beat')\ntime.sleep(1000)\n"
    result = await run_sandboxed([PY, "-c", code], tmp_path, Limits(timeout=1), mode=mode)
    assert result.timed_out
    assert (tmp_path / "child.beat").exists()
    assert await _stops_growing(tmp_path / "child.beat")


async def test_forked_child_does_not_hold_the_run_and_is_named(tmp_path: Path, mode: str) -> None:
    code = HEARTBEAT + (
        "import os, time\nif os.fork() == 0:\n    beat('child.beat')\ntime.sleep(0.3)\nprint('parent done')\n"
    )
    start = time.monotonic()
    result = await run_sandboxed([PY, "-c", code], tmp_path, FAST, mode=mode)
    assert time.monotonic() - start < 5
    assert result.ok and not result.timed_out
    assert result.stdout == "parent done\n"
    assert len(result.strays) == 1 and result.strays[0].startswith(Path(PY).name[:15])
    assert await _stops_growing(tmp_path / "child.beat")


async def test_child_in_its_own_session_dies_with_the_run(tmp_path: Path, mode: str) -> None:
    code = HEARTBEAT + (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        beat('child.beat')\n"
        "    os._exit(0)\n"
        "time.sleep(0.3)\n"
    )
    start = time.monotonic()
    result = await run_sandboxed([PY, "-c", code], tmp_path, FAST, mode=mode)
    assert result.ok
    assert time.monotonic() - start < 5
    assert len(result.strays) == 1
    assert await _stops_growing(tmp_path / "child.beat")


async def test_unbounded_allocation_hits_the_memory_limit(tmp_path: Path, mode: str) -> None:
    code = "a = []\nwhile True:\n    a.append(bytearray(10_000_000))"
    limits = Limits(timeout=10, memory_bytes=200 << 20)
    result = await run_sandboxed([PY, "-c", code], tmp_path, limits, mode=mode)
    assert not result.ok and not result.timed_out
    assert "MemoryError" in result.stderr
    assert "memory" in result.describe()


async def test_cpu_spin_hits_the_cpu_limit(tmp_path: Path, mode: str) -> None:
    limits = Limits(timeout=20, cpu_seconds=1)
    result = await run_sandboxed([PY, "-c", "while True: pass"], tmp_path, limits, mode=mode)
    assert not result.timed_out
    assert result.returncode == -signal.SIGXCPU
    assert result.describe() == "killed by SIGXCPU (CPU-time limit)"


async def test_huge_file_write_hits_the_file_size_limit(tmp_path: Path, mode: str) -> None:
    code = "with open('big.bin', 'wb') as f:\n    for _ in range(100):\n        f.write(b'0' * (1 << 20))"
    limits = Limits(timeout=10, file_size_bytes=1 << 20)
    result = await run_sandboxed([PY, "-c", code], tmp_path, limits, mode=mode)
    assert not result.ok
    assert (tmp_path / "big.bin").stat().st_size <= 1 << 20
    assert "file-size limit" in result.describe()


async def test_file_size_signal_is_named(tmp_path: Path, mode: str) -> None:
    # `dd`, unlike Python, does not ignore SIGXFSZ: it dies of it.
    command = ["dd", "if=/dev/zero", "of=big.bin", "bs=1M", "count=5"]
    result = await run_sandboxed(command, tmp_path, Limits(timeout=10, file_size_bytes=1 << 20), mode=mode)
    assert result.returncode == -signal.SIGXFSZ
    assert result.describe() == "exceeded the file-size limit (killed by SIGXFSZ)"


async def test_stdin_is_empty(tmp_path: Path, mode: str) -> None:
    result = await run_sandboxed([PY, "-c", "import sys; print(repr(sys.stdin.read()))"], tmp_path, FAST, mode=mode)
    assert result.stdout == "''\n"


async def test_parent_environment_does_not_leak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    monkeypatch.setenv("SOME_TOKEN", "tok-456")
    code = "import os; print(sorted(os.environ.items()))"
    result = await run_sandboxed([PY, "-c", code], tmp_path, FAST, env={"PYTHONPATH": "src"}, mode=mode)
    assert result.ok
    assert "sk-secret-123" not in result.stdout and "tok-456" not in result.stdout
    assert "OPENAI_API_KEY" not in result.stdout
    assert "('PYTHONPATH', 'src')" in result.stdout
    assert "('PYTHONDONTWRITEBYTECODE', '1')" in result.stdout
    home = os.path.expanduser("~")
    assert f"('HOME', '{home}')" not in result.stdout


async def test_runs_concurrently_without_blocking_the_loop(tmp_path: Path, mode: str) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    start = time.monotonic()
    sleep = [PY, "-c", "import time; time.sleep(1.5)"]
    runs = [run_sandboxed(sleep, tmp_path, FAST, mode=mode) for _ in range(2)]
    results: list[RunResult] = await asyncio.gather(*runs)
    elapsed = time.monotonic() - start
    task.cancel()
    assert all(r.ok for r in results)
    assert elapsed < 2.9  # one after the other would take 3 s or more
    assert ticks >= 10


async def test_cancelling_the_run_kills_the_program(tmp_path: Path, mode: str) -> None:
    code = HEARTBEAT + "beat('main.beat')"
    task = asyncio.create_task(run_sandboxed([PY, "-c", code], tmp_path, FAST, mode=mode))
    deadline = time.monotonic() + 5
    while not (tmp_path / "main.beat").exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _stops_growing(tmp_path / "main.beat")
