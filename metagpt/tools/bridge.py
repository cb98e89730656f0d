"""The tool bridge: generated code in the sandboxed kernel calls tools that run in MetaGPT's process.

The kernel has no network (with bubblewrap) and no secrets, so the tools that need them (a web
search, the allow-listed HTTP caller, the document store) run here. `ToolBridge` listens on a
Unix socket in the kernel's folder; `stub_code` defines, inside the kernel, one function per
tool that sends its arguments as one JSON line and returns the JSON answer (or raises
`ToolError` with the tool's error message). Only the listed tools can be called.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from pathlib import Path

from loguru import logger

from metagpt.tools.registry import Tool

MAX_REQUEST = 1 << 20
MAX_ANSWER = 2 << 20
"""Bytes of one tool answer sent back to the kernel at most; a larger answer is an error."""

STUB = r'''
def __metagpt_tools():
    import json as _json, socket as _socket

    class ToolError(Exception):
        """A tool refused or failed; the message says why."""

    def _call(_name, *args, **kwargs):
        with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as sock:
            sock.connect(__SOCKET__)
            sock.sendall(_json.dumps({"tool": _name, "args": args, "kwargs": kwargs}, default=str).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        answer = _json.loads(data or b'{"ok": false, "error": "no answer from the tool bridge"}')
        if not answer.get("ok"):
            raise ToolError(answer.get("error", "tool failed"))
        return answer.get("result")

    def _make(_name, _doc):
        def tool(*args, **kwargs):
            return _call(_name, *args, **kwargs)
        tool.__name__, tool.__doc__ = _name, _doc
        return tool

    return ToolError, {name: _make(name, doc) for name, doc in __TOOLS__.items()}

ToolError, __tools = __metagpt_tools()
globals().update(__tools)
del __metagpt_tools, __tools
'''


def stub_code(socket_path: Path, tools: list[Tool]) -> str:
    """Code that defines each tool (and `ToolError`) in the kernel, calling through the bridge."""
    docs = {t.name: f"{t.name}{t.signature}: {t.description}" for t in tools}
    return STUB.replace("__SOCKET__", repr(str(socket_path))).replace("__TOOLS__", repr(docs))


class ToolBridge:
    """Serves tool calls from the kernel on `socket_path` while the run lasts."""

    def __init__(self, socket_path: Path, tools: list[Tool]):
        self.socket_path = Path(socket_path)
        self.tools = {t.name: t for t in tools}
        self.calls: list[tuple[str, bool]] = []
        """(tool, succeeded) for every call, in order."""
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> ToolBridge:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path), limit=MAX_REQUEST)
        self.socket_path.chmod(0o666)  # the kernel may run as another user inside bubblewrap
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            answer = await self.call(line)
            data = json.dumps(answer, default=str, ensure_ascii=False).encode()
            if len(data) > MAX_ANSWER:
                data = json.dumps({"ok": False, "error": f"the answer is over {MAX_ANSWER} bytes"}).encode()
            writer.write(data + b"\n")
            await writer.drain()
        except (ConnectionError, ValueError) as exc:
            logger.debug(f"tool bridge: {exc}")
        finally:
            writer.close()

    async def call(self, line: bytes) -> dict:
        """Run the tool one request line names; errors become `{"ok": false, "error": ...}`."""
        try:
            request = json.loads(line)
            name = str(request["tool"])
            args, kwargs = list(request.get("args") or []), dict(request.get("kwargs") or {})
        except (ValueError, KeyError, TypeError) as exc:
            return {"ok": False, "error": f"malformed tool request: {exc}"}
        tool = self.tools.get(name)
        if tool is None:
            return {"ok": False, "error": f"no tool named {name!r}; available: {', '.join(sorted(self.tools))}"}
        try:
            result = tool.func(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:  # a tool's failure is the model's to handle: sent back to the cell
            self.calls.append((name, False))
            logger.info(f"tool {name} failed: {exc}")
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        self.calls.append((name, True))
        return {"ok": True, "result": result}
