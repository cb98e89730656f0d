"""`NodeEngine` (`nodejs`): mermaid-cli's renderer in a Node process, on the system Chromium
through a puppeteer launch config (puppeteer's own browser is never downloaded)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metagpt.exceptions import MermaidSyntaxError, RenderEngineError
from metagpt.render.browser import (
    CHROMIUM_ARGS,
    MERMAID_CLI,
    RENDER_TIMEOUT,
    START_TIMEOUT,
    Engine,
    chromium_missing,
    error_text,
    find_chromium,
    find_package,
)

if TYPE_CHECKING:
    from metagpt.configs.settings import Config


class NodeEngine(Engine):
    """mermaid-cli's `renderMermaid` in one Node process and one browser (see `mermaid_worker.mjs`)."""

    name = "nodejs"
    WORKER = Path(__file__).with_name("mermaid_worker.mjs")

    def __init__(self, node_modules: Path, chromium: Path, node: str = "node"):
        self.node_modules = node_modules
        self.chromium = chromium
        self.node = node
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._count = 0
        self._profile: tempfile.TemporaryDirectory | None = None

    @classmethod
    def from_config(cls, config: Config) -> NodeEngine:
        chromium = find_chromium(config) or Path("chromium")
        cli = find_package(config, MERMAID_CLI)
        modules = cli.parents[2] if cli is not None else Path("node_modules")
        return cls(modules, chromium, shutil.which("node") or "node")

    @classmethod
    def missing(cls, config: Config) -> str | None:
        if shutil.which("node") is None:
            return "Node.js (`node`) is not on PATH"
        if reason := chromium_missing(config):
            return reason
        if find_package(config, MERMAID_CLI) is None:
            return "mermaid-cli (@mermaid-js/mermaid-cli) is not installed"
        return None

    def launch_options(self, profile: Path) -> dict[str, Any]:
        """Puppeteer's launch options: the system browser, offline flags and a fresh profile."""
        return {"executablePath": str(self.chromium), "args": list(CHROMIUM_ARGS), "userDataDir": str(profile)}

    async def start(self) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="metagpt-chromium-")
        config_file = Path(self._profile.name) / "puppeteer-config.json"
        config_file.write_text(json.dumps(self.launch_options(Path(self._profile.name) / "profile")))
        env = {**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.node,
                str(self.WORKER),
                str(self.node_modules),
                str(config_file),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                limit=64 * 1024 * 1024,
            )
            assert self._process.stdout is not None and self._process.stderr is not None  # piped above
            ready = await asyncio.wait_for(self._process.stdout.readline(), START_TIMEOUT)
            if not ready.startswith(b'{"ready"'):
                stderr = await asyncio.wait_for(self._process.stderr.read(), 5)
                raise RenderEngineError(f"mermaid-cli did not start: {error_text(RuntimeError(stderr.decode()))}")
        except (OSError, TimeoutError) as exc:
            await self.close()
            raise RenderEngineError(f"mermaid-cli did not start: {exc!r}") from exc
        except RenderEngineError:
            await self.close()
            raise
        self._reader = asyncio.create_task(self._read_answers())

    async def _read_answers(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        while line := await self._process.stdout.readline():
            answer = json.loads(line)
            future = self._pending.pop(answer.get("id"), None)
            if future is not None and not future.done():
                future.set_result(answer)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RenderEngineError("the mermaid-cli process exited"))
        self._pending.clear()

    async def _request(self, code: str, fmt: str) -> bytes:
        if self._process is None or self._process.returncode is not None or self._reader is None:
            raise RenderEngineError("the mermaid-cli process is not running")
        self._count += 1
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[self._count] = future
        assert self._process.stdin is not None  # started with stdin piped
        self._process.stdin.write(json.dumps({"id": self._count, "code": code, "format": fmt}).encode() + b"\n")
        try:
            await self._process.stdin.drain()
            answer = await asyncio.wait_for(future, RENDER_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self._pending.pop(self._count, None)
            raise RenderEngineError(f"mermaid-cli failed: {exc!r}") from exc
        if "error" in answer:
            error = answer["error"]
            if "Parse error" in error or "Lexical error" in error or "No diagram type detected" in error:
                raise MermaidSyntaxError(error)
            raise RenderEngineError(f"mermaid-cli failed: {error}")
        return base64.b64decode(answer["data"])

    async def render(self, code: str, formats: Iterable[str]) -> dict[str, bytes]:
        formats = tuple(formats)
        first = await self._request(code, formats[0])  # a parse error stops here, once
        rest = await asyncio.gather(*(self._request(code, fmt) for fmt in formats[1:]))
        return dict(zip(formats, [first, *rest], strict=True))

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            assert process.stdin is not None  # started with stdin piped
            try:
                process.stdin.close()
                await asyncio.wait_for(process.wait(), 10)
            except (OSError, TimeoutError):
                process.kill()
                await process.wait()
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None
