"""Runs started from the browser: each is the CLI in a child process of its own session.

A crashing run never takes the server down, and a run outlives a server restart (its
journal and lock tell the new server it is alive). At most `max_runs` children run at once;
the rest wait in order. Stop is SIGTERM to the child's process group: the CLI turns it into a
cancellation, and the journal records the run as `interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from metagpt.utils.paths import to_identifier

REAP_SECONDS = 0.25
NAME_LENGTH = 40
"""The longest name `utils.paths.to_identifier` makes (the CLI's folder names)."""
STDERR_TAIL = 4000


@dataclass
class ChildRun:
    """One CLI run the server started (or queued)."""

    project: str
    args: list[str]
    kind: str
    """`new`, `resume` or `change`."""
    idea: str = ""
    state: str = "queued"
    """`queued`, `running`, `exited` or `cancelled`."""
    process: subprocess.Popen | None = None
    returncode: int | None = None
    log: Path | None = None
    queued_at: float = field(default_factory=time.time)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def stderr_tail(self) -> str:
        """The end of what the CLI printed (its last line says how the run ended)."""
        if self.log is None:
            return ""
        try:
            with open(self.log, "rb") as handle:
                handle.seek(max(0, os.path.getsize(self.log) - STDERR_TAIL))
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def last_line(self) -> str:
        lines = [line for line in self.stderr_tail().splitlines() if line.strip()]
        return lines[-1] if lines else ""


class Runs:
    """The server's child runs, by project name."""

    def __init__(self, workspace: Path, max_runs: int = 2, env: dict[str, str] | None = None):
        self.workspace = workspace
        self.max_runs = max(1, max_runs)
        self.env = env
        self._runs: dict[str, ChildRun] = {}
        self._queue: deque[ChildRun] = deque()
        self._logs = Path(tempfile.mkdtemp(prefix="metagpt-serve-"))
        self._task: asyncio.Task | None = None

    def get(self, project: str) -> ChildRun | None:
        return self._runs.get(project)

    def names(self) -> list[str]:
        return list(self._runs)

    def free_name(self, wanted: str, fixed: bool) -> str:
        """A project folder name made as the CLI makes it, free on disk and among queued runs."""
        base = to_identifier(wanted, drop_filler=not fixed) or "project"
        candidate, n = base, 1
        while os.path.lexists(self.workspace / candidate) or self._is_taken(candidate):
            n += 1
            suffix = f"_{n}"  # within the CLI's 40 characters, so `--project-name` keeps it as is
            candidate = f"{base[: NAME_LENGTH - len(suffix)].rstrip('_')}{suffix}"
        return candidate

    def _is_taken(self, name: str) -> bool:
        run = self._runs.get(name)
        return run is not None and (run.active or (run.kind == "new" and not (self.workspace / name).exists()))

    def submit(self, project: str, args: list[str], kind: str, idea: str = "") -> ChildRun:
        """Queue the CLI with `args` for `project`; it starts as soon as a slot is free."""
        run = ChildRun(project, args, kind, idea)
        self._runs[project] = run
        self._queue.append(run)
        self._start_waiting()
        return run

    def _start_waiting(self) -> None:
        running = sum(1 for r in self._runs.values() if r.state == "running")
        while self._queue and running < self.max_runs:
            run = self._queue.popleft()
            if run.state != "queued":
                continue
            try:
                self._spawn(run)
            except OSError as exc:  # no process could be started (no memory, no descriptors): say why
                run.state, run.returncode = "exited", -1
                with contextlib.suppress(OSError):
                    Path(run.log or self._logs / f"{run.project}.log").write_text(f"Error: cannot start the run: {exc}")
                continue
            running += 1

    def _spawn(self, run: ChildRun) -> None:
        run.log = self._logs / f"{run.project}-{int(time.time() * 1000)}.log"
        env = dict(os.environ if self.env is None else self.env)
        env["WORKSPACE_PATH"] = str(self.workspace)
        with open(run.log, "wb") as log:
            run.process = subprocess.Popen(
                [sys.executable, "-m", "metagpt", *run.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: stop signals it and all it started
            )
        run.state = "running"

    def reap(self) -> None:
        """Record the children that ended and start waiting runs in their place."""
        for run in self._runs.values():
            if run.state == "running" and run.process is not None and run.process.poll() is not None:
                run.returncode = run.process.returncode
                run.state = "exited"
        self._start_waiting()

    async def watch(self) -> None:
        """Reap children until cancelled (the app's lifespan runs it)."""
        while True:
            self.reap()
            await asyncio.sleep(REAP_SECONDS)

    def stop(self, project: str) -> bool:
        """SIGTERM to the run's process group, or drop it from the queue; False when it is not ours or not active."""
        run = self._runs.get(project)
        if run is None or not run.active:
            return False
        if run.state == "queued":
            run.state = "cancelled"
            return True
        assert run.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.process.pid, signal.SIGTERM)
        return True

    def close(self) -> None:
        """Forget the queue and the logs of ended runs; children keep running (a restarted
        server finds them from their journals)."""
        for run in self._queue:
            run.state = "cancelled"
        self._queue.clear()
        self.reap()
        for run in self._runs.values():
            if run.state == "exited" and run.log is not None:
                with contextlib.suppress(OSError):
                    run.log.unlink()
        with contextlib.suppress(OSError):
            self._logs.rmdir()  # kept while a child still writes its log there


def stop_foreign(pid: int | None) -> bool:
    """SIGTERM to a run the server did not start (a terminal's, or one from before a restart)."""
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True
