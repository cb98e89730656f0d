"""`PlaywrightEngine` (`playwright`): Python's playwright drives the system Chromium on one page
that has loaded the locally installed mermaid bundle."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from metagpt.exceptions import MermaidSyntaxError, RenderEngineError
from metagpt.render.browser import (
    CHROMIUM_ARGS,
    MERMAID_BUNDLE,
    RENDER_TIMEOUT,
    START_TIMEOUT,
    Engine,
    chromium_missing,
    error_text,
    find_bundle,
    find_chromium,
)

if TYPE_CHECKING:
    from metagpt.configs.settings import Config

T = TypeVar("T")


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
            raise RenderEngineError(f"playwright could not start {self.chromium}: {error_text(exc)}") from exc

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
                raise RenderEngineError(f"the browser failed: {error_text(exc)}") from exc

    async def _parse(self, code: str) -> None:
        error = await self._page.evaluate(
            """async (code) => {
                try { await mermaid.parse(code); return null; }
                catch (error) { return String(error?.message ?? error); }
            }""",
            code,
        )
        if error is not None:
            raise MermaidSyntaxError(error_text(RuntimeError(error)))

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
            raise MermaidSyntaxError(error_text(RuntimeError(result["error"])))
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
