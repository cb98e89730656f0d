"""No kernel outlives a run: after 20 runs, an error, a cancellation (what Ctrl-C does) or the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metagpt.roles import DataInterpreter
from tests.environ import settings_free_environ
from tests.interpreter.conftest import code, make_context, plan

ROOT = Path(__file__).resolve().parents[2]
CLI = "from metagpt.cli import main; main()"


def kernels(workspace: Path) -> list[int]:
    """Pids of running ipykernel processes started from runs in `workspace` (a kernel's connection
    file is inside its project folder), so kernels of tests running beside this one do not count."""
    folder = f"{workspace}/".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"ipykernel_launcher" in argv and folder in argv:
                found.append(int(entry))
    return found


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_twenty_runs_leave_no_kernel_and_no_open_files(workspace):
    async def one(i: int) -> None:
        context, _ = make_context(workspace, [plan(("1", [], "print")), code(f"print({i})")])
        message = await DataInterpreter(context=context).run(f"print {i}")
        assert message.content == str(i)
        await context.aclose()

    await one(0)  # the first run imports jupyter_client and zmq: count from after it
    before = open_fds()
    for i in range(1, 21):
        await one(i)
    assert kernels(workspace) == []
    assert open_fds() <= before + 2  # a cached import or logger handle at most, never one per run


async def test_an_error_in_the_loop_still_shuts_the_kernel_down(workspace):
    context, _ = make_context(workspace, [plan(("1", [], "print"))])  # the code call finds no answer
    with pytest.raises(AssertionError, match="no scripted response"):
        await DataInterpreter(context=context).run("print")
    assert kernels(workspace) == []


async def test_cancelling_mid_cell_shuts_the_kernel_down(workspace):
    context, _ = make_context(workspace, [plan(("1", [], "wait")), code("import time\ntime.sleep(600)")])
    run = asyncio.ensure_future(DataInterpreter(context=context).run("wait"))
    for _ in range(200):
        await asyncio.sleep(0.1)
        if kernels(workspace) and len(context.provider.calls) == 2:  # the sleeping cell has been sent
            break
    await asyncio.sleep(0.5)
    assert kernels(workspace), "the kernel should be running the cell"
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert kernels(workspace) == []
    assert list(workspace.glob("*/notebook.ipynb")), "what ran is still saved"


def test_the_cli_runs_and_exits_zero_with_the_fake_model(workspace):
    env = {**os.environ, "API_TYPE": "fake", "WORKSPACE_PATH": str(workspace), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", CLI, "interpret", "say hello", "--project-name", "hi"],
        capture_output=True, text=True, env=env, timeout=120, cwd=workspace,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "hello"
    assert (workspace / "hi" / "notebook.ipynb").is_file() and (workspace / "hi" / "plan.json").is_file()
    assert kernels(workspace) == []


def test_the_cli_refuses_a_missing_data_file(workspace):
    env = {**os.environ, "API_TYPE": "fake", "WORKSPACE_PATH": str(workspace), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", CLI, "interpret", "x", "--data", "nope.csv"],
        capture_output=True, text=True, env=env, timeout=60, cwd=workspace,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--data nope.csv: no such file" in result.stderr


def test_ctrl_c_through_the_cli_mid_cell_exits_130_and_leaves_no_kernel(workspace, allow_model_requests):
    import signal
    import time

    from tests.e2e.openai_server import OpenAIServer, answer

    with OpenAIServer() as server:
        server.plan(answer(plan(("1", [], "wait"))), answer(code("import time\ntime.sleep(600)")))
        environ = settings_free_environ()
        environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-interp-test-0123456789",
                       WORKSPACE_PATH=str(workspace), PYTHONPATH=str(ROOT), MERMAID_ENGINE="none")  # fmt: skip
        process = subprocess.Popen(
            [sys.executable, "-c", CLI, "interpret", "wait", "--project-name", "w"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ,
            cwd=workspace,
        )  # fmt: skip
        try:
            for _ in range(600):
                if len(server.requests) >= 2 and kernels(workspace):
                    break
                time.sleep(0.1)
            time.sleep(1.5)  # the sleeping cell is running in the kernel
            assert kernels(workspace), "the kernel should be running the cell"
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 130, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == "Interrupted by SIGINT; the kernel was shut down." and not stdout
    assert kernels(workspace) == []
    assert (workspace / "w" / "notebook.ipynb").is_file(), "what ran is still saved"
