"""The plain runner: limits and a clean environment, without isolation.

Used when bubblewrap is not available (or `SANDBOX: none`). The command runs as the same user
with the same view of the file system and the network: it is protected against accidents
(endless loops, fork trees, huge allocations and outputs, processes left behind, which the
supervisor kills and names), not against malice.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from metagpt.sandbox.policy import Policy, build_env
from metagpt.sandbox.process import RunResult, Supervised, execute


def _scratch() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="metagpt-run-"))
    (scratch / "home").mkdir()
    (scratch / "tmp").mkdir()
    return scratch


async def run(policy: Policy, command: list[str]) -> RunResult:
    """Run `command` in `policy.workdir` under `policy.limits` with a scratch HOME and TMPDIR."""
    scratch = _scratch()
    try:
        env = build_env(str(scratch / "home"), str(scratch / "tmp"), policy.env)
        return await execute([], command, policy.workdir, env, policy.limits, "none")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def start(policy: Policy, command: list[str]) -> Supervised:
    """Start a long-lived `command` like `run` does; end it with `stop()`."""
    scratch = _scratch()
    process = Supervised(command, policy.limits, "none")
    process.on_close(lambda: shutil.rmtree(scratch, ignore_errors=True))
    env = build_env(str(scratch / "home"), str(scratch / "tmp"), policy.env)
    await process.start([], policy.workdir, env)
    return process
