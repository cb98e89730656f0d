"""`Terminal` and `Python`: the agent's commands that run code, both inside the sandbox.

`Terminal.run` is one shell command through `run_sandboxed`: a scratch environment (no API
keys), no stdin, the project folder as its working folder, a wall-clock limit
(`AGENT_COMMAND_TIMEOUT`), CPU, memory and output limits. `Python.run` is a cell in the
interpreter's sandboxed IPython kernel, started on first use, so variables persist between cells.
A command that exits non-zero, times out or raises is a `ToolFailure`: the list stops there.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from metagpt.roles.di.agent.commands import ToolFailure
from metagpt.sandbox import Limits, SandboxMode, run_sandboxed

if TYPE_CHECKING:
    from metagpt.actions.di.kernel import SandboxedKernel

OUTPUT_CHARS = 4000
"""Most characters of a command's stdout (and of its stderr) shown to the agent."""


def _tail(text: str, limit: int = OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else "[... cut ...]\n" + text[-limit:]


class Terminal:
    """Runs shell commands in the project folder, in the sandbox."""

    def __init__(self, workdir: Path, timeout: float, mode: SandboxMode = "auto", network: bool = False):
        self.workdir = Path(workdir)
        self.timeout = timeout
        self.mode: SandboxMode = mode
        self.network = network
        self.isolated: bool | None = None

    async def run(self, command: str) -> str:
        """Run a shell command in the project folder (sandboxed: no network, no secrets, no input, a time limit).

        Args:
            command: the command line, e.g. "python test.py" or "ls -la".
        """
        if not command.strip():
            raise ToolFailure("the command is empty")
        shell = shutil.which("bash") or "/bin/sh"
        limits = Limits.wall_clock(self.timeout)
        result = await run_sandboxed([shell, "-c", command], self.workdir, limits, mode=self.mode, network=self.network)
        self.isolated = result.isolation == "bwrap"
        ended = f"exit code 0 ({result.duration:.1f}s)" if result.ok else result.describe()
        text = f"$ {command}\n{ended}"
        if result.stdout.strip():
            text += f"\nstdout:\n{_tail(result.stdout.rstrip())}"
        if result.stderr.strip():
            text += f"\nstderr:\n{_tail(result.stderr.rstrip())}"
        if not result.ok:
            raise ToolFailure(text)
        return text


class Python:
    """Runs Python cells in the interpreter's sandboxed kernel (started on first use)."""

    def __init__(self, workdir: Path, cell_timeout: float, mode: SandboxMode = "auto", network: bool = False):
        self.workdir = Path(workdir)
        self.cell_timeout = cell_timeout
        self.mode: SandboxMode = mode
        self.network = network
        self._kernel: SandboxedKernel | None = None

    async def run(self, code: str) -> str:
        """Run Python code in a persistent kernel in the project folder; variables stay for later cells.

        Args:
            code: the Python code; print what you need to see.
        """
        from metagpt.actions.di.kernel import SandboxedKernel

        if self._kernel is None:
            self._kernel = SandboxedKernel(self.workdir, self.cell_timeout, self.mode, self.network)
        result = await self._kernel.execute(code)
        text = result.text(OUTPUT_CHARS) or "(no output)"
        if not result.ok:
            raise ToolFailure(text)
        return text

    async def close(self) -> None:
        """Shut the kernel down, if it was started; safe to call twice."""
        kernel, self._kernel = self._kernel, None
        if kernel is not None:
            await kernel.shutdown()


def kernel_available() -> bool:
    """Whether the interpreter's kernel can run here (jupyter_client and ipykernel installed)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("jupyter_client", "ipykernel"))
