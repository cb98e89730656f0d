"""Running model-generated (untrusted) code in a subprocess with limits.

Generated code may loop forever, fork, allocate without bound, fill the disk or print
megabytes. `run_untrusted` keeps such a program from hanging or killing the run that started
it:

* it runs in its own session and process group; on timeout the whole group is killed
  (SIGKILL), and once the main process has exited, any children it left behind are killed too;
* resource limits are set just before the command is executed: CPU time (`RLIMIT_CPU`, SIGXCPU
  then SIGKILL a second later), address space (`RLIMIT_AS`), size of any file written
  (`RLIMIT_FSIZE`), and no core dumps;
* standard input is empty, stdout and stderr are each kept to `Limits.output_bytes` (head and
  tail, the cut marked), decoded as UTF-8 with replacement characters;
* the environment is built from scratch (PATH, locale, a scratch HOME and TMPDIR, Python
  settings) plus the caller's extras: the parent's variables, API keys included, never reach it;
* everything is asyncio: the event loop is never blocked, several runs may go on at once.

This is NOT a security boundary. The code runs as the same user, with the same view of the
file system and the network: it can read the user's files, write anywhere the user can, open
connections, or start a process in a new session that escapes the group kill. It protects the
run against accidents, not against malice. A real boundary is a container or a VM, e.g.
`docker run --rm --network none --memory 1g -v "$PWD:/work" -w /work <image> python -m pytest`
with an image that has pytest installed, and the project folder as the only mount.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DRAIN_TIMEOUT = 1.0
"""Seconds to wait for the output pipes to close once the process group is gone.

A process that left the group (a new session) may still hold them open; we do not wait for it.
"""

_WRAPPER = """\
import os, resource, signal, sys
cpu, mem, fsize = (int(a) for a in sys.argv[1:4])
for name in ("SIGPIPE", "SIGXFSZ", "SIGXCPU"):
    if hasattr(signal, name):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
def limit(kind, soft, hard):
    _, current = resource.getrlimit(kind)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(kind, (soft, hard))
limit(resource.RLIMIT_CORE, 0, 0)
if cpu > 0:
    limit(resource.RLIMIT_CPU, cpu, cpu + 1)
if mem > 0:
    limit(resource.RLIMIT_AS, mem, mem)
if fsize > 0:
    limit(resource.RLIMIT_FSIZE, fsize, fsize)
try:
    os.execvp(sys.argv[4], sys.argv[4:])
except OSError as error:
    sys.stderr.write(f"cannot run {sys.argv[4]!r}: {error.strerror}\\n")
    os._exit(127 if isinstance(error, FileNotFoundError) else 126)
"""
"""Runs in the child before the command: resets signals Python ignores, sets the limits, execs.

A wrapper rather than `preexec_fn`: `preexec_fn` is unsafe when the parent has threads (the
model client and `asyncio.to_thread` do), a fresh interpreter is not.
"""

_SIGNAL_NOTES = {
    signal.SIGXCPU: "CPU-time limit",
    signal.SIGKILL: "memory limit?",
    signal.SIGSEGV: "crashed",
    signal.SIGABRT: "aborted",
}


@dataclass(frozen=True)
class Limits:
    """What a run may use. A value of 0 turns that resource limit off."""

    timeout: float = 60.0
    """Wall-clock seconds for the whole run; then the process group is killed."""
    cpu_seconds: int = 60
    """CPU seconds (`RLIMIT_CPU`); the process gets SIGXCPU, then SIGKILL a second later."""
    memory_bytes: int = 1 << 30
    """Address space (`RLIMIT_AS`); allocations beyond it fail (Python raises MemoryError)."""
    file_size_bytes: int = 50 << 20
    """Largest file the program may write (`RLIMIT_FSIZE`)."""
    output_bytes: int = 20_000
    """Kept of stdout and of stderr each: the head and the tail, the cut marked in between."""


@dataclass
class RunResult:
    """What happened to one run of `run_untrusted`."""

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

    @property
    def ok(self) -> bool:
        """The command exited with code 0 in time."""
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        """One line on how the run ended, naming the limit that stopped it when one did."""
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

    def text(self) -> str:
        tail = bytes(self._tail[-self._tail_limit :]) if self._tail_limit else b""
        cut = self._total - len(self._head) - len(tail)
        middle = f"\n[... {cut} bytes cut ...]\n".encode() if cut > 0 else b""
        return (bytes(self._head) + middle + tail).decode("utf-8", errors="replace")


def build_env(home: Path, tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment, from scratch: none of the parent's variables are passed on.

    PATH starts with the folder of the running interpreter, so `python` and `pytest` are the
    ones MetaGPT runs with.
    """
    path = [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
    env = {
        "PATH": os.pathsep.join(dict.fromkeys(path)),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8",
        "NO_COLOR": "1",
    }
    env.update(extra or {})
    return env


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def run_untrusted(
    command: list[str],
    cwd: Path,
    limits: Limits = Limits(),
    env: dict[str, str] | None = None,
) -> RunResult:
    """Run `command` in `cwd` under `limits` and report how it ended; never raises for the program.

    Args:
        command: the program and its arguments, looked up on the child's PATH.
        cwd: folder to run in (the generated project).
        limits: time, CPU, memory, file-size and output limits.
        env: extra environment variables (e.g. PYTHONPATH), added to the scratch environment.

    Returns:
        The exit code, the truncated output, whether it timed out, and how long it took. A
        missing program is reported as exit code 127, not raised.
    """
    loop = asyncio.get_running_loop()
    scratch = Path(tempfile.mkdtemp(prefix="metagpt-run-"))
    (scratch / "home").mkdir()
    (scratch / "tmp").mkdir()
    child_env = build_env(scratch / "home", scratch / "tmp", env)
    wrapper = [sys.executable, "-I", "-S", "-c", _WRAPPER]
    wrapper += [str(limits.cpu_seconds), str(limits.memory_bytes), str(limits.file_size_bytes), *command]

    captures: list[_Capture] = []
    transports: list[asyncio.BaseTransport] = []
    closed: list[asyncio.Future[None]] = []
    write_ends: list[int] = []
    proc: asyncio.subprocess.Process | None = None
    timed_out = False
    start = time.monotonic()
    try:
        for _ in range(2):
            read_fd, write_fd = os.pipe()
            write_ends.append(write_fd)
            done = loop.create_future()
            capture = _Capture(limits.output_bytes, done)
            transport, _ = await loop.connect_read_pipe(lambda c=capture: c, os.fdopen(read_fd, "rb", buffering=0))
            captures.append(capture)
            transports.append(transport)
            closed.append(done)
        proc = await asyncio.create_subprocess_exec(
            *wrapper,
            cwd=cwd,
            env=child_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_ends[0],
            stderr=write_ends[1],
            start_new_session=True,
        )
        for fd in write_ends:
            os.close(fd)
        write_ends.clear()
        try:
            await asyncio.wait_for(proc.wait(), timeout=limits.timeout if limits.timeout > 0 else None)
        except asyncio.TimeoutError:
            timed_out = True
            _kill_group(proc.pid)
            await proc.wait()
        # Whatever the program left behind in its group dies with it.
        _kill_group(proc.pid)
        await asyncio.wait(closed, timeout=DRAIN_TIMEOUT)
    except BaseException:
        if proc is not None:
            _kill_group(proc.pid)
        raise
    finally:
        for fd in write_ends:
            os.close(fd)
        for transport in transports:
            transport.close()
        shutil.rmtree(scratch, ignore_errors=True)
    duration = time.monotonic() - start
    return RunResult(
        command=list(command),
        returncode=None if timed_out else proc.returncode,
        stdout=captures[0].text(),
        stderr=captures[1].text(),
        timed_out=timed_out,
        duration=duration,
        timeout=limits.timeout,
    )
