"""Mermaid rendering engines: one browser session each, started once and reused for every diagram.

* `NodeEngine` (`nodejs`): mermaid-cli's renderer in a Node process, on the system Chromium
  through a puppeteer launch config (puppeteer's own browser is never downloaded).
* `PlaywrightEngine` (`playwright`): Python's playwright drives the system Chromium on one page
  that has loaded the locally installed mermaid bundle.

Both render to SVG, PNG or PDF and report mermaid's parse errors as `MermaidSyntaxError`; a
browser that fails, crashes or hangs raises `RenderEngineError`.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import contextlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from metagpt.const import SOURCE_ROOT
from metagpt.exceptions import MermaidSyntaxError, RenderEngineError

if TYPE_CHECKING:
    from metagpt.configs.settings import Config

FORMATS = ("svg", "png", "pdf")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Flags that keep Chromium from reaching out to the network: it must work offline."""
START_TIMEOUT = 60.0
RENDER_TIMEOUT = 30.0
MERMAID_BUNDLE = Path("mermaid/dist/mermaid.min.js")
"""The browser build of mermaid, inside `node_modules`."""
MERMAID_CLI = Path("@mermaid-js/mermaid-cli/package.json")
INSTALL_HINT = "run `make mermaid` (Debian's chromium and the npm packages of package.json in ./node_modules)"


T = TypeVar("T")


def find_chromium(config: Config) -> Path | None:
    """The browser to drive: `CHROMIUM_PATH`, else the first Chromium or Chrome on PATH."""
    if config.chromium_path is not None:
        return config.chromium_path if config.chromium_path.is_file() else None
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return Path(found)
    return None


def chromium_missing(config: Config) -> str | None:
    """Why no browser can be found, or None."""
    if config.chromium_path is not None and not config.chromium_path.is_file():
        return f"CHROMIUM_PATH {config.chromium_path} does not exist"
    return None if find_chromium(config) else "no Chromium on PATH (install chromium or set CHROMIUM_PATH)"


def node_folders(config: Config) -> list[Path]:
    """`node_modules` folders that may hold mermaid-cli and mermaid, most specific first.

    With `MMDC` set: the folders around it (`<dir>/node_modules/.bin/mmdc` in a project, or a global
    install whose mermaid-cli keeps its own dependencies). Otherwise the checkout's and the current
    folder's `node_modules`, where `make mermaid` installs them.
    """
    if config.mmdc is None:
        return [SOURCE_ROOT / "node_modules", Path.cwd() / "node_modules"]
    mmdc = config.mmdc.absolute()
    if len(config.mmdc.parts) == 1 and (on_path := shutil.which(str(config.mmdc))):  # `MMDC: mmdc`
        mmdc = Path(on_path)
    folders = [p for p in [*mmdc.parents, *mmdc.resolve().parents] if p.name == "node_modules"]
    cli = mmdc.resolve().parents[1] if len(mmdc.resolve().parents) > 1 else mmdc.parent
    return list(dict.fromkeys([*folders, cli / "node_modules"]))


def find_package(config: Config, relative: Path) -> Path | None:
    """`<node_modules>/<relative>` in the first folder of `node_folders` that has it."""
    return next((folder / relative for folder in node_folders(config) if (folder / relative).is_file()), None)


def find_bundle(config: Config) -> Path | None:
    """The browser build of mermaid (`mermaid.min.js`)."""
    return find_package(config, MERMAID_BUNDLE)


def _error_text(exc: BaseException) -> str:
    """The parser's message without JavaScript stack lines or the driver's prefix."""
    text = str(exc).split("Error: ", 1)[-1] if str(exc).startswith("Page.evaluate") else str(exc)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("at ")).strip()


class Engine(abc.ABC):
    """A started browser session that turns mermaid code into files."""

    name: str

    @classmethod
    @abc.abstractmethod
    def missing(cls, config: Config) -> str | None:
        """What this engine lacks on this machine, or None when it can start."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Launch the browser; raises `RenderEngineError` when it cannot."""

    @abc.abstractmethod
    async def render(self, code: str, formats: Iterable[str]) -> dict[str, bytes]:
        """`{format: file content}` for one diagram; raises `MermaidSyntaxError` for invalid code."""

    async def validate(self, code: str) -> str | None:
        """Mermaid's parse error for `code`, or None when it parses."""
        try:
            await self.render(code, ("svg",))
        except MermaidSyntaxError as exc:
            return str(exc)
        return None

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop the browser; safe to call twice."""


class PlaywrightEngine(Engine):
    """The system Chromium driven by Python's playwright, on one page with mermaid loaded."""

    name = "playwright"
    PAGE = "<!doctype html><html><body style='margin:0;background:white'><div id='out'></div></body></html>"

    def __init__(self, chromium: Path, bundle: Path):
        """`bundle` is `mermaid.min.js`, loaded once into the page."""
        self.chromium = chromium
        self.bundle = bundle
        self._playwright: Any = None
        self._browser: Any = None
        self._page: Any = None
        self._lock = asyncio.Lock()
        self._count = 0

    @classmethod
    def from_config(cls, config: Config) -> PlaywrightEngine:
        return cls(find_chromium(config) or Path("chromium"), find_bundle(config) or Path(MERMAID_BUNDLE.name))

    @classmethod
    def missing(cls, config: Config) -> str | None:
        if importlib.util.find_spec("playwright") is None:
            return "the Python package playwright is not installed"
        if reason := chromium_missing(config):
            return reason
        if find_bundle(config) is None:
            return f"the mermaid bundle ({MERMAID_BUNDLE}) is not installed"
        return None

    async def start(self) -> None:
        from playwright.async_api import async_playwright

        try:
            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=str(self.chromium), args=list(CHROMIUM_ARGS), timeout=START_TIMEOUT * 1000
            )
            self._page = await self._browser.new_page(device_scale_factor=2, viewport={"width": 1200, "height": 800})
            await self._page.set_content(self.PAGE)
            await self._page.add_script_tag(path=str(self.bundle))
            await self._page.evaluate("mermaid.initialize({startOnLoad: false, securityLevel: 'strict'})")
        except Exception as exc:
            await self.close()
            raise RenderEngineError(f"playwright could not start {self.chromium}: {_error_text(exc)}") from exc

    async def render(self, code: str, formats: Iterable[str]) -> dict[str, bytes]:
        return await self._on_page(self._render(code, tuple(formats)))

    async def validate(self, code: str) -> str | None:
        """Mermaid's own parser only: a few milliseconds, where a render to PNG takes tenths of a second."""
        try:
            await self._on_page(self._parse(code))
        except MermaidSyntaxError as exc:
            return str(exc)
        return None

    async def _on_page(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the page, one job at a time, bounded by `RENDER_TIMEOUT`."""
        async with self._lock:
            if self._page is None:
                work.close()
                raise RenderEngineError("the playwright engine is not running")
            self._count += 1
            try:
                return await asyncio.wait_for(work, RENDER_TIMEOUT)
            except MermaidSyntaxError:
                raise
            except TimeoutError as exc:
                raise RenderEngineError(f"rendering took longer than {RENDER_TIMEOUT:.0f}s") from exc
            except Exception as exc:
                raise RenderEngineError(f"the browser failed: {_error_text(exc)}") from exc

    async def _parse(self, code: str) -> None:
        error = await self._page.evaluate(
            """async (code) => {
                try { await mermaid.parse(code); return null; }
                catch (error) { return String(error?.message ?? error); }
            }""",
            code,
        )
        if error is not None:
            raise MermaidSyntaxError(_error_text(RuntimeError(error)))

    async def _render(self, code: str, formats: tuple[str, ...]) -> dict[str, bytes]:
        result = await self._page.evaluate(
            """async ([id, code]) => {
                const out = document.getElementById('out');
                out.innerHTML = '';
                try {
                    await mermaid.parse(code);
                    const { svg } = await mermaid.render(id, code);
                    out.innerHTML = svg;
                    return { svg };
                } catch (error) {
                    document.getElementById(id)?.remove();
                    document.getElementById('d' + id)?.remove();
                    return { error: String(error?.message ?? error) };
                }
            }""",
            [f"diagram{self._count}", code],
        )
        if "error" in result:
            raise MermaidSyntaxError(_error_text(RuntimeError(result["error"])))
        files: dict[str, bytes] = {}
        if "svg" in formats:
            files["svg"] = result["svg"].encode("utf-8")
        if "png" in formats or "pdf" in formats:
            svg = self._page.locator("#out > svg")
            if "png" in formats:
                files["png"] = await svg.screenshot(type="png")
            if "pdf" in formats:
                box = await svg.bounding_box()
                files["pdf"] = await self._page.pdf(
                    width=f"{int(box['width']) + 2}px", height=f"{int(box['height']) + 2}px", print_background=True
                )
        return files

    async def close(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._page = self._browser = self._playwright = None
        # The browser may already be gone (a crash is why we close): nothing is left to release then.
        if browser is not None:
            with contextlib.suppress(Exception):
                await browser.close()
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()


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
                raise RenderEngineError(f"mermaid-cli did not start: {_error_text(RuntimeError(stderr.decode()))}")
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


ENGINES: dict[str, type[Engine]] = {"playwright": PlaywrightEngine, "nodejs": NodeEngine}
AUTO_ORDER = ("playwright", "nodejs")
"""`auto` tries these in turn: playwright renders from one page that loads mermaid once, so it is faster."""


def candidates(config: Config) -> tuple[list[Engine], list[str]]:
    """The engines to try for `MERMAID_ENGINE`, in order, and why the others cannot run."""
    names = AUTO_ORDER if config.mermaid_engine == "auto" else (config.mermaid_engine,)
    if config.mermaid_engine == "none":
        return [], []
    engines, reasons = [], []
    for name in names:
        cls = ENGINES[name]
        reason = cls.missing(config)
        if reason is None:
            engines.append(cls.from_config(config))  # type: ignore[attr-defined]
        else:
            reasons.append(f"{name}: {reason}")
    return engines, reasons
