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
from metagpt.sandbox.process import RunResult, execute


async def run(policy: Policy, command: list[str]) -> RunResult:
    """Run `command` in `policy.workdir` under `policy.limits` with a scratch HOME and TMPDIR."""
    scratch = Path(tempfile.mkdtemp(prefix="metagpt-run-"))
    try:
        (scratch / "home").mkdir()
        (scratch / "tmp").mkdir()
        env = build_env(str(scratch / "home"), str(scratch / "tmp"), policy.env)
        return await execute([], command, policy.workdir, env, policy.limits, "none")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
