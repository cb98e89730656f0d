"""Running model-generated (untrusted) code: isolated by bubblewrap when it works, limited always.

`run_sandboxed` is the one entry point: QA's test runs (and later the interpreter's kernel and
the agent's terminal) ask it to run a command in a work folder. What the command may see and
use is a `Policy` (`policy.py`), plain data; `bwrap.py` turns it into a bubblewrap command line,
`plain.py` runs without isolation, honouring only the limits and the clean environment.

`SANDBOX` chooses: `auto` isolates when bubblewrap works here and otherwise says once, in one
line, that generated code is not isolated and how to install isolation; `bwrap` refuses to run
code without it; `none` never isolates.
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from metagpt.exceptions import SandboxUnavailable
from metagpt.sandbox import bwrap, plain
from metagpt.sandbox.policy import Limits, Policy, SandboxMode, make_policy
from metagpt.sandbox.process import RunResult, Supervised

__all__ = [
    "INSTALL_HINT",
    "Limits",
    "Policy",
    "RunResult",
    "SandboxMode",
    "SandboxedProcess",
    "isolation",
    "run_sandboxed",
    "start_sandboxed",
]

INSTALL_HINT = "install bubblewrap (`make sandbox`, or `apt-get install bubblewrap`)"
_warned: set[str] = set()


def isolation(mode: SandboxMode = "auto") -> str:
    """`bwrap` or `none`: how code will run under `mode` on this machine.

    Raises:
        SandboxUnavailable: `mode` is `bwrap` and bubblewrap does not work here.
    """
    if mode == "none":
        return "none"
    reason = bwrap.unusable_reason()
    if not reason:
        return "bwrap"
    if mode == "bwrap":
        raise SandboxUnavailable(f"SANDBOX is bwrap but {reason}: {INSTALL_HINT}, or set SANDBOX: auto.")
    if reason not in _warned:
        _warned.add(reason)
        logger.warning(f"Generated code is not isolated ({reason}): {INSTALL_HINT} to isolate it.")
    return "none"


async def run_sandboxed(
    command: list[str],
    workdir: Path,
    limits: Limits | None = None,
    env: dict[str, str] | None = None,
    *,
    mode: SandboxMode = "auto",
    network: bool = False,
) -> RunResult:
    """Run `command` in `workdir` under `limits` and report how it ended; never raises for the program.

    Args:
        command: the program and its arguments, looked up on the sandbox's PATH.
        workdir: the folder to run in; with isolation, the only folder the command may write
            (besides a private `/tmp`).
        limits: time, CPU, memory, file-size and output limits (default `Limits()`).
        env: extra environment variables (e.g. PYTHONPATH), added to a scratch environment.
        mode: `auto`, `bwrap` or `none` (the `SANDBOX` setting).
        network: allow the network (the `SANDBOX_NETWORK` setting; only isolation can deny it).

    Returns:
        The exit code, the truncated output, whether it timed out, the processes left behind
        (killed), and whether the run was isolated. A missing program is exit code 127.

    Raises:
        SandboxUnavailable: `mode` is `bwrap` and bubblewrap does not work here.
    """
    policy = make_policy(Path(workdir), limits or Limits(), env, network)
    if isolation(mode) == "bwrap":
        return await bwrap.run(policy, command)
    return await plain.run(policy, command)


class SandboxedProcess:
    """A long-lived sandboxed command, such as an interpreter's kernel, as an async context manager.

    It runs under the same policy as `run_sandboxed` (no wall-clock limit unless `limits` sets
    one) and talks to the parent through files or Unix sockets in its work folder, the one
    place both sides see (with isolation there is no network, so no TCP to the parent).
    Leaving the block, or `stop()`, kills it and everything it started.

        async with SandboxedProcess([python, "kernel.py", "kernel.sock"], folder) as kernel:
            ...  # connect to folder / "kernel.sock"
        kernel.result.strays  # what was still running, named
    """

    def __init__(
        self,
        command: list[str],
        workdir: Path,
        limits: Limits | None = None,
        env: dict[str, str] | None = None,
        *,
        mode: SandboxMode = "auto",
        network: bool = False,
    ):
        self.command = list(command)
        self.workdir = Path(workdir)
        self.limits = limits or Limits(timeout=0, cpu_seconds=0)
        self.env = env
        self.mode: SandboxMode = mode
        self.network = network
        self.result: RunResult | None = None
        """How it ended, once stopped."""
        self._process: Supervised | None = None

    async def start(self) -> SandboxedProcess:
        """Start the command; raises `SandboxUnavailable` as `run_sandboxed` does."""
        policy = make_policy(self.workdir, self.limits, self.env, self.network)
        runner = bwrap if isolation(self.mode) == "bwrap" else plain
        self._process = await runner.start(policy, self.command)
        return self

    @property
    def running(self) -> bool:
        """True until the command has ended (by itself or by `stop`)."""
        return self._process is not None and self._process.running

    @property
    def isolated(self) -> bool:
        return self._process is not None and self._process.isolation == "bwrap"

    async def stop(self) -> RunResult:
        """Kill the command and everything it started; returns how it ended."""
        if self.result is None:
            assert self._process is not None, "start() first"
            try:
                self.result = await (self._process.stop() if self._process.running else self._process.wait())
            finally:
                self._process.close()
        return self.result

    async def __aenter__(self) -> SandboxedProcess:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def start_sandboxed(command: list[str], workdir: Path, **options) -> SandboxedProcess:
    """`SandboxedProcess(command, workdir, **options)`: use it with `async with`."""
    return SandboxedProcess(command, workdir, **options)
