"""`SandboxedKernel`: a real IPython kernel (ipykernel) running inside the project's sandbox.

The kernel is started by `metagpt.sandbox.SandboxedProcess`, so it gets the sandbox's rules: an
environment built from scratch (no API keys), its own process group, CPU, memory and file-size
limits, and with bubblewrap no network and no view of the host's files. It talks to us over
ZeroMQ's `ipc` transport: Unix sockets in `<workdir>/.kernel/`, the one folder both sides see.

A cell that runs longer than `cell_timeout` is interrupted (an `interrupt_request` on the
control channel, which makes ipykernel send itself SIGINT); a cell that ignores the interrupt,
or a kernel that dies, gets a fresh kernel, and the result says so. `shutdown()` always ends
the kernel and everything it started; use the kernel as an async context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from loguru import logger

from metagpt.exceptions import UserError
from metagpt.sandbox import Limits, SandboxedProcess, SandboxMode
from metagpt.utils.atomic import write_atomic

KERNEL_DIR = ".kernel"
"""Folder of the connection file and the sockets, inside the work folder; removed at shutdown."""
START_TIMEOUT = 60.0
INTERRUPT_GRACE = 5.0
"""Seconds an interrupted cell gets to stop before the kernel is restarted."""
SOCKET_PATH_MAX = 100
"""Unix socket paths longer than this (the limit is 107 bytes) cannot be bound."""
STREAM_HEAD = STREAM_TAIL = 10_000
"""Characters kept of the start and of the end of each output stream of a cell (the rest is cut)."""
RICH_LIMIT = 1 << 20
"""Bytes of rich output (images, HTML) kept per cell; more is dropped with a note."""
FLOOD_CHARS = 20 << 20
"""A cell that sends more output than this is interrupted: its output could only be cut anyway."""
STREAM_CHUNK = 1 << 18
"""Characters of printed output the kernel sends at most in one message (see `output_cap`)."""
KERNEL_LIMITS = Limits(timeout=0, cpu_seconds=0, memory_bytes=4 << 30, file_size_bytes=200 << 20)
"""The kernel lives for the whole run: no wall-clock or CPU limit (cells have `cell_timeout`)."""


def install_hint() -> str:
    return "install the interpreter's extra: pip install -e '.[interpreter]' (or make install)"


@dataclass
class CellResult:
    """What one cell did: its notebook outputs, a text view of them, and how it ended."""

    outputs: list[dict[str, Any]] = field(default_factory=list)
    """nbformat output dicts (stream, execute_result, display_data, error)."""
    error: str = ""
    """`Name: value` of the exception the cell raised, or why it did not finish."""
    traceback: str = ""
    """The error's traceback without terminal colours."""
    timed_out: bool = False
    restarted: str = ""
    """Set when the kernel had to be restarted during or after this cell: the note to show."""
    seen: int = 0
    """Characters (and rich bytes) of output the kernel sent, kept or not."""
    flooded: bool = False
    """The cell sent over `FLOOD_CHARS` and was interrupted."""
    _clips: dict[int, _Clip] = field(default_factory=dict, repr=False)
    _rich: int = 0

    @property
    def ok(self) -> bool:
        return not self.error

    def add_stream(self, name: str, text: str) -> None:
        """Append printed text; each stream keeps its head and tail (`STREAM_HEAD`, `STREAM_TAIL`)."""
        self.seen += len(text)
        last = self.outputs[-1] if self.outputs else None
        if last is None or last.get("output_type") != "stream" or last.get("name") != name:
            last = {"output_type": "stream", "name": name, "text": ""}
            self.outputs.append(last)
            self._clips[len(self.outputs) - 1] = _Clip()
        clip = self._clips[len(self.outputs) - 1]
        clip.add(text)
        last["text"] = clip.render()

    def add_rich(self, output: dict[str, Any]) -> None:
        """Append a display or result output, unless the cell's rich outputs are over `RICH_LIMIT`."""
        size = sum(len(str(value)) for value in output.get("data", {}).values())
        self.seen += size
        if self._rich + size > RICH_LIMIT:
            self.add_stream("stderr", f"[a display output of {size:,} bytes was dropped: over {RICH_LIMIT:,} a cell]\n")
            return
        self._rich += size
        self.outputs.append(output)

    def text(self, limit: int = 4000) -> str:
        """The cell's printed output and result, then its error; the tail kept within `limit`."""
        parts: list[str] = []
        for output in self.outputs:
            kind = output.get("output_type")
            if kind == "stream":
                parts.append(output.get("text", ""))
            elif kind in ("execute_result", "display_data"):
                data = output.get("data", {})
                parts.append(data.get("text/plain", "[image]" if "image/png" in data else "") + "\n")
        if self.traceback:
            parts.append(self.traceback + "\n")
        elif self.error:
            parts.append(self.error + "\n")
        if self.restarted:
            parts.append(self.restarted + "\n")
        text = "".join(parts)
        return text if len(text) <= limit else "[... cut ...]\n" + text[-limit:]


class _Clip:
    """The head and the tail of a stream of text, and how much was cut between them."""

    def __init__(self) -> None:
        self.head, self.tail, self.cut = "", "", 0

    def add(self, text: str) -> None:
        if len(self.head) < STREAM_HEAD:
            room = STREAM_HEAD - len(self.head)
            self.head, text = self.head + text[:room], text[room:]
        if text:
            self.tail += text
            if len(self.tail) > STREAM_TAIL:
                self.cut += len(self.tail) - STREAM_TAIL
                self.tail = self.tail[-STREAM_TAIL:]

    def render(self) -> str:
        middle = f"\n[... {self.cut:,} characters cut ...]\n" if self.cut else ""
        return self.head + middle + self.tail


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _output_cap_code() -> str:
    """Kernel start-up code installing `output_cap` without a trace in the user's namespace.

    The kernel sends `FLOOD_CHARS` characters of a cell's printing, then a line saying the rest is
    not sent: that line takes what we have seen past `FLOOD_CHARS`, so the cell is interrupted as
    a flood just as when the kernel sends everything, and the kernel never sends much more.
    """
    source = (Path(__file__).parent / "output_cap.py").read_text(encoding="utf-8")
    source += f"\ninstall({FLOOD_CHARS}, {STREAM_CHUNK})\n"
    return f"exec(compile({source!r}, '<output_cap>', 'exec'), {{'__name__': '_output_cap'}})"


def clear_folder(folder: Path) -> None:
    """Remove `folder` whatever code left there: a link or a file is unlinked, never followed."""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(folder)
    else:
        os.unlink(folder)


class SandboxedKernel:
    """An IPython kernel in the sandbox; `execute` runs one cell in it, variables persist.

    Args:
        workdir: the folder the kernel runs in (the project folder) and may write.
        cell_timeout: seconds a cell may run before it is interrupted.
        mode: `SANDBOX` (`auto`, `bwrap`, `none`).
        network: `SANDBOX_NETWORK`.
        env: extra environment variables for the kernel (on top of the scratch environment).
    """

    def __init__(
        self,
        workdir: Path,
        cell_timeout: float = 120.0,
        mode: SandboxMode = "auto",
        network: bool = False,
        env: dict[str, str] | None = None,
        limits: Limits = KERNEL_LIMITS,
    ):
        self.workdir = Path(workdir).resolve()
        self.cell_timeout = cell_timeout
        self.mode: SandboxMode = mode
        self.network = network
        self.env = {"MPLBACKEND": "Agg", **(env or {})}
        self.limits = limits
        self.restarts = 0
        self.isolated = False
        self._process: SandboxedProcess | None = None
        self._client: Any = None
        self._startup: list[str] = []

    @property
    def folder(self) -> Path:
        return self.workdir / KERNEL_DIR

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def on_start(self, code: str) -> None:
        """Run `code` silently in every kernel started from now on (e.g. the tools' stubs)."""
        self._startup.append(code)

    async def start(self) -> SandboxedKernel:
        """Start the kernel and wait until it answers.

        Raises:
            UserError: jupyter_client/ipykernel are not installed, or the folder path is too long.
            SandboxUnavailable: `SANDBOX: bwrap` and bubblewrap does not work here.
        """
        try:
            from jupyter_client.asynchronous import AsyncKernelClient
            from jupyter_client.connect import write_connection_file
        except ImportError:
            raise UserError(f"The interpreter needs jupyter_client and ipykernel: {install_hint()}.") from None
        folder = self.folder
        if len(str(folder / "k-00000")) > SOCKET_PATH_MAX:
            raise UserError(f"The project folder path is too long for the kernel's sockets: {self.workdir}; "
                            "use a shorter WORKSPACE_PATH.")  # fmt: skip
        clear_folder(folder)
        folder.mkdir(parents=True)
        # Written by jupyter_client in a private folder, then put in place link-safely; the client
        # keeps the settings in memory, never rereading a file the kernel could have replaced.
        with tempfile.TemporaryDirectory(prefix="metagpt-kernel-") as private:
            draft, info = write_connection_file(
                os.path.join(private, "connection.json"), ip=str(folder / "k"), transport="ipc",
                key=secrets.token_hex(16).encode(),
            )  # fmt: skip
            connection = str(folder / "connection.json")
            write_atomic(connection, Path(draft).read_bytes(), mode=0o600)
        command = [sys.executable, "-m", "ipykernel_launcher", "-f", connection, "--HistoryManager.enabled=False"]
        env = {**self.env, "IPYTHONDIR": str(folder / "ipython")}
        process = SandboxedProcess(command, self.workdir, self.limits, env, mode=self.mode, network=self.network)
        await process.start()
        self._process = process
        self.isolated = process.isolated
        client = AsyncKernelClient()
        client.load_connection_info(info)
        client.start_channels()
        self._client = client
        try:
            await self._wait_ready()
            for code in [_output_cap_code(), *self._startup]:
                result = await self.execute(code, silent=True)
                if not result.ok:
                    raise RuntimeError(f"the kernel's start-up code failed: {result.text()}")
        except BaseException:
            await self.shutdown()
            raise
        logger.debug(f"kernel started in {self.workdir} ({'isolated' if self.isolated else 'not isolated'})")
        return self

    async def _wait_ready(self) -> None:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while True:
            if not self.running:
                result = await self._process.stop() if self._process else None
                why = result.stderr.strip()[-500:] if result else ""
                raise RuntimeError(f"the kernel did not start: {why or 'it exited at once'}")
            with contextlib.suppress(RuntimeError, TimeoutError, asyncio.TimeoutError):
                await self._client.wait_for_ready(timeout=1)
                return
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the kernel did not answer within {START_TIMEOUT:g}s")

    async def restart(self, why: str) -> str:
        """End this kernel and start a fresh one; returns the note the model and the user see."""
        logger.warning(f"Restarting the interpreter's kernel: {why}")
        await self.shutdown()
        self.restarts += 1
        await self.start()
        return f"[The kernel was restarted ({why}): variables and imports from earlier cells are gone.]"

    async def execute(self, code: str, silent: bool = False) -> CellResult:
        """Run one cell; never raises for the code's own errors, time-outs or a dying kernel."""
        if self._client is None:
            await self.start()
        client = self._client
        msg_id = client.execute(code, silent=silent, store_history=not silent, allow_stdin=False)
        result = CellResult()
        deadline = asyncio.get_running_loop().time() + self.cell_timeout
        interrupted = False
        while True:
            loop = asyncio.get_running_loop()
            wait = max(0.05, min(1.0, deadline - loop.time()))
            try:
                message = await client.get_iopub_msg(timeout=wait)
            except (Empty, TimeoutError, asyncio.TimeoutError):
                message = None
                if not self.running:
                    result.error = result.error or "The kernel died while running this cell (memory limit?)"
                    result.restarted = await self.restart("it died")
                    return result
            if loop.time() >= deadline:  # checked on every message too: a chatty cell times out as well
                if not interrupted:
                    interrupted = True
                    result.timed_out = True
                    self._interrupt()
                    deadline = loop.time() + INTERRUPT_GRACE
                    continue
                result.error = (
                    f"OutputFlood: the cell printed over {FLOOD_CHARS:,} characters and did not stop when interrupted"
                    if result.flooded
                    else f"TimeoutError: the cell ran over CELL_TIMEOUT ({self.cell_timeout:g}s)"
                )
                result.restarted = await self.restart("a cell did not stop when interrupted")
                return result
            if message is None:
                continue
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                break
            if kind == "stream":
                result.add_stream(str(content.get("name", "stdout")), str(content.get("text", "")))
            elif kind in ("execute_result", "display_data"):
                output = {"output_type": kind, "data": content.get("data", {}), "metadata": content.get("metadata", {})}
                if kind == "execute_result":
                    output["execution_count"] = content.get("execution_count")
                result.add_rich(output)
            if result.seen > FLOOD_CHARS and not result.flooded:
                result.flooded = True
                if not interrupted:
                    interrupted = True
                    self._interrupt()
                    deadline = loop.time() + INTERRUPT_GRACE
            elif kind == "error":
                result.outputs.append(
                    {"output_type": "error", **{k: content[k] for k in ("ename", "evalue", "traceback")}}
                )
                result.error = f"{content['ename']}: {content['evalue']}"
                result.traceback = _strip_ansi("\n".join(content.get("traceback", [])))
        if result.flooded:
            result.error = f"OutputFlood: the cell printed over {FLOOD_CHARS:,} characters and was interrupted"
            result.traceback = ""  # the KeyboardInterrupt we caused says nothing about the code
        elif result.timed_out:
            result.error = f"TimeoutError: interrupted after CELL_TIMEOUT ({self.cell_timeout:g}s)"
        return result

    def _interrupt(self) -> None:
        client = self._client
        message = client.session.msg("interrupt_request", {})
        client.control_channel.send(message)

    async def shutdown(self) -> None:
        """Stop the kernel and everything it started, and remove its sockets; safe to call twice."""
        client, self._client = self._client, None
        process, self._process = self._process, None
        try:
            if client is not None:
                client.stop_channels()
        finally:
            if process is not None:
                result = await asyncio.shield(process.stop())
                if result.strays:
                    logger.info(f"The kernel left processes behind, killed: {', '.join(result.strays)}")
            with contextlib.suppress(OSError):
                clear_folder(self.folder)

    async def __aenter__(self) -> SandboxedKernel:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()
