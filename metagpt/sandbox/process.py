"""Starting the supervisor, capturing bounded output, and reporting how a run ended.

Shared by both runners: they differ only in the command-line prefix (`bwrap ...` or nothing)
and in the environment's HOME and TMPDIR. Everything is asyncio, so the event loop is never
blocked and several runs may go on at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from metagpt.sandbox.policy import Limits
from metagpt.sandbox.supervisor import SUPERVISOR, SUPERVISOR_MARK

DRAIN_TIMEOUT = 1.0
"""Seconds to wait for the output pipes to close once every process of the run is gone."""
GRACE = 5.0
"""Seconds past the timeout the supervisor gets to clean up before we kill it ourselves."""
STATUS_LIMIT = 64_000
"""Bytes of the supervisor's status we read at most."""

_SIGNAL_NOTES = {
    signal.SIGXCPU: "CPU-time limit",
    signal.SIGKILL: "memory limit?",
    signal.SIGSEGV: "crashed",
    signal.SIGABRT: "aborted",
}


@dataclass
class RunResult:
    """What happened to one sandboxed run."""

    command: list[str]
    returncode: int | None
    """The exit code; negative for a signal (-9 for SIGKILL); None when killed on timeout."""
    stdout: str
    stderr: str
    timed_out: bool
    duration: float
    """Wall-clock seconds from start to the end of the run."""
    timeout: float | None = field(default=None, compare=False)
    """The wall-clock limit the run had, for `describe`."""
    strays: list[str] = field(default_factory=list)
    """Processes still alive when the command ended, killed by the supervisor: `name (pid N)`."""
    isolation: str = "none"
    """`bwrap` when the run was isolated by bubblewrap, `none` under plain limits."""
    sandbox_error: str = ""
    """Set when the sandbox itself could not start the command (e.g. bubblewrap failed)."""
    crowded: int = 0
    """The process limit, when the run was killed for going past it; 0 otherwise."""

    @property
    def ok(self) -> bool:
        """The command exited with code 0 in time."""
        return self.returncode == 0 and not self.timed_out and not self.sandbox_error and not self.crowded

    def describe(self) -> str:
        """One line on how the run ended, naming the limit that stopped it when one did."""
        if self.sandbox_error:
            return f"the sandbox could not start the command: {self.sandbox_error}"
        if self.crowded:
            return f"killed: more than {self.crowded} processes at once (process limit)"
        if self.timed_out:
            limit = self.timeout if self.timeout is not None else self.duration
            return f"killed after {limit:g}s (timeout)"
        code = self.returncode
        if code == 0:
            return f"passed in {self.duration:.1f}s"
        if code is None:
            return "did not finish"
        if code < 0:
            try:
                sig = signal.Signals(-code)
            except ValueError:
                return f"killed by signal {-code}"
            if sig == signal.SIGXFSZ:
                return "exceeded the file-size limit (killed by SIGXFSZ)"
            note = _SIGNAL_NOTES.get(sig)
            return f"killed by {sig.name}" + (f" ({note})" if note else "")
        if "File too large" in self.stderr:
            return f"exceeded the file-size limit (exit code {code})"
        if "MemoryError" in self.stderr:
            return f"ran out of memory (exit code {code}, memory limit?)"
        if code == 127 and self.stderr.startswith("cannot run"):
            return f"command not found: {self.command[0]}"
        return f"exit code {code}"


class _Capture(asyncio.Protocol):
    """Collects a pipe's bytes keeping only the head and the tail, so memory stays bounded."""

    def __init__(self, limit: int, closed: asyncio.Future[None]):
        self._head_limit = limit // 2
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail = bytearray()
        self._total = 0
        self._closed = closed

    def data_received(self, data: bytes) -> None:
        self._total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        self._tail += data
        if len(self._tail) > 2 * self._tail_limit + 65536:
            del self._tail[: len(self._tail) - self._tail_limit]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)

    def raw(self) -> bytes:
        return bytes(self._head)

    def text(self) -> str:
        tail = bytes(self._tail[-self._tail_limit :]) if self._tail_limit else b""
        cut = self._total - len(self._head) - len(tail)
        middle = f"\n[... {cut} bytes cut ...]\n".encode() if cut > 0 else b""
        return (bytes(self._head) + middle + tail).decode("utf-8", errors="replace")


def _kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _statuses(data: bytes) -> dict:
    """The supervisor's JSON lines merged; lines that do not parse are ignored."""
    merged: dict = {}
    for line in data.splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                merged.update(value)
    return merged


class Supervised:
    """One command started under the supervisor: its process, its output pipes and its status.

    `execute` starts one and waits for it; a long-lived process (the interpreter's kernel) is
    started the same way and ended with `stop`.
    """

    def __init__(self, command: list[str], limits: Limits, isolation: str):
        self.command = list(command)
        self.limits = limits
        self.isolation = isolation
        self.proc: asyncio.subprocess.Process | None = None
        self._captures: list[_Capture] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._closed: list[asyncio.Future[None]] = []
        self._start = time.monotonic()
        self._cleanups: list[Callable[[], None]] = []

    def on_close(self, cleanup: Callable[[], None]) -> None:
        """Call `cleanup` (e.g. remove a scratch HOME) once the run is over."""
        self._cleanups.append(cleanup)

    async def start(self, prefix: list[str], cwd: Path, env: dict[str, str]) -> None:
        """Start `prefix + supervisor + command` in `cwd` with exactly `env`."""
        loop = asyncio.get_running_loop()
        status_read, status_write = os.pipe()
        limits = self.limits
        config = {
            "status_fd": status_write,
            "timeout": limits.timeout,
            "cpu": limits.cpu_seconds,
            "memory": limits.memory_bytes,
            "fsize": limits.file_size_bytes,
            "processes": limits.processes,
            "pidns": self.isolation == "bwrap",
        }
        argv = [*prefix, sys.executable, "-I", "-S", "-c", SUPERVISOR, json.dumps(config), *self.command]
        write_ends: list[int] = [status_write]
        self._start = time.monotonic()
        try:
            for limit, fd in ((limits.output_bytes, None), (limits.output_bytes, None), (STATUS_LIMIT, status_read)):
                if fd is None:
                    fd, write_fd = os.pipe()
                    write_ends.append(write_fd)
                done = loop.create_future()
                capture = _Capture(limit, done)

                def protocol(capture: _Capture = capture) -> _Capture:
                    return capture

                transport, _ = await loop.connect_read_pipe(protocol, os.fdopen(fd, "rb", buffering=0))
                self._captures.append(capture)
                self._transports.append(transport)
                self._closed.append(done)
            self.proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_ends[1],
                stderr=write_ends[2],
                pass_fds=(status_write,),
                start_new_session=True,
            )
        except BaseException:
            self.close()
            raise
        finally:
            for fd in write_ends:
                os.close(fd)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait(self) -> RunResult:
        """Wait for the end (the supervisor enforces the timeout; we kill it after a grace period)."""
        assert self.proc is not None, "start() first"
        wall = self.limits.timeout + GRACE if self.limits.timeout > 0 else None
        try:
            await asyncio.wait_for(self.proc.wait(), timeout=wall)
        except asyncio.TimeoutError:
            _kill_group(self.proc.pid)
            await self.proc.wait()
        return await self._result()

    async def stop(self) -> RunResult:
        """End the command now: the supervisor kills every process of the run and reports."""
        if self.proc is not None and self.proc.returncode is None:
            await _stop(self.proc, self._child(), self.isolation)
        return await self._result()

    def close(self) -> None:
        for transport in self._transports:
            transport.close()
        for cleanup in self._cleanups:
            cleanup()
        self._cleanups.clear()

    def _child(self) -> int | None:
        """The command's process group, known only without isolation (see `_stop`)."""
        child = _statuses(self._captures[2].raw()).get("pid") if len(self._captures) == 3 else None
        return child if isinstance(child, int) and child > 1 and self.isolation == "none" else None

    async def _result(self) -> RunResult:
        proc = self.proc
        assert proc is not None
        _kill_group(proc.pid)
        await asyncio.wait(self._closed, timeout=DRAIN_TIMEOUT)
        status = _statuses(self._captures[2].raw())
        child = status.get("pid")
        group = self._child()
        if group is not None:
            _kill_group(group)  # the supervisor was killed before it could clean up
        finished = "returncode" in status
        timed_out = bool(status.get("timed_out")) or (not finished and child is not None)
        stderr = self._captures[1].text()
        error = ""
        if child is None:
            error = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {proc.returncode}"
        strays = [str(s) for s in status.get("strays", []) if isinstance(s, str)]
        crowded = status.get("crowded")
        crowded = crowded if isinstance(crowded, int) else 0
        code = status.get("returncode") if finished else None
        if not isinstance(code, int):
            code = None if timed_out or crowded or status.get("stopped") else proc.returncode
        return RunResult(
            command=self.command,
            returncode=code,
            stdout=self._captures[0].text(),
            stderr=stderr,
            timed_out=timed_out,
            duration=time.monotonic() - self._start,
            timeout=self.limits.timeout,
            strays=strays,
            isolation=self.isolation,
            sandbox_error=error,
            crowded=crowded,
        )


async def execute(
    prefix: list[str],
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    limits: Limits,
    isolation: str,
) -> RunResult:
    """Run `prefix + supervisor + command` in `cwd`; never raises for the program's behaviour.

    Args:
        prefix: the isolation command line (`bwrap ...`), empty for plain limits.
        command: the program and its arguments, looked up on the child's PATH.
        cwd: folder to start in.
        env: the whole environment of the command (nothing of the parent's is added).
        limits: time, CPU, memory, file-size and output limits.
        isolation: recorded on the result.
    """
    run = Supervised(command, limits, isolation)
    await run.start(prefix, cwd, env)
    try:
        return await run.wait()
    except BaseException:
        if run.proc is not None:
            await _stop(run.proc, run._child(), isolation)
        raise
    finally:
        run.close()


async def _stop(proc: asyncio.subprocess.Process, child: object, isolation: str = "none") -> None:
    """Ask the supervisor to kill everything and exit; kill it and its groups if it does not.

    `child` is the command's process group, known only without isolation (under bubblewrap it
    is a pid of another namespace, and the namespace dies with bubblewrap anyway). Under
    bubblewrap the supervisor is found among bubblewrap's descendants, so it can still name
    what it kills.
    """
    target = _supervisor_below(proc.pid) if isolation == "bwrap" else proc.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(target or proc.pid, signal.SIGTERM)
    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(proc.wait()), timeout=2.0)
    _kill_group(proc.pid)
    if isinstance(child, int) and child > 1:
        _kill_group(child)


def _supervisor_below(root: int) -> int | None:
    """The pid (as we see it) of the supervisor running under bubblewrap process `root`."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry}/stat").read_text(errors="replace")
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    frontier = [root]
    for _ in range(4):
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        for pid in frontier:
            with contextlib.suppress(OSError):
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if os.path.basename(argv[0]) != b"bwrap" and SUPERVISOR_MARK in b"\0".join(argv):
                    return pid
    return None
