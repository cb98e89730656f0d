"""`DiagramRenderer`: one company's diagrams, rendered in one browser session alongside the run.

renderer = DiagramRenderer(config)
renderer.start()                         # launches the engine in the background
error = await renderer.validate(code)    # mermaid's parse error, or None (None too without an engine)
renderer.submit("seq_flow", code, write)      # write("resources/seq_flow.svg", data) when rendered
line = await renderer.finish()           # waits for the diagrams; one line for the run's summary

Rendering never fails a run: with no engine, or when the engine fails twice, the `.mmd` files
stay and `finish` says how to enable rendering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loguru import logger

from metagpt.const import RESOURCES_DIR
from metagpt.exceptions import MermaidSyntaxError, MetaGPTError, RenderEngineError
from metagpt.render.browser import INSTALL_HINT, Engine
from metagpt.render.engines import candidates

if TYPE_CHECKING:
    from metagpt.configs.settings import Config

FINISH_TIMEOUT = 120.0

WriteFile = Callable[[str, bytes], object]
"""Writes a rendered file at a path relative to the project folder (the project's own safe writer)."""


@dataclass
class RenderOutcome:
    """What happened to the diagrams of one run."""

    rendered: list[str] = field(default_factory=list)
    """Stems rendered to every requested format."""
    invalid: dict[str, str] = field(default_factory=dict)
    """Stem -> mermaid's parse error, for diagrams kept as source only."""
    failed: dict[str, str] = field(default_factory=dict)
    """Stem -> engine failure, for diagrams the engine could not render even on a retry."""


class DiagramRenderer:
    """Renders every diagram of a company's run with one engine, started once.

    Args:
        config: `MERMAID_ENGINE` chooses the engine, `MERMAID_PDF` adds PDF output.
        engines: the engines to try, in order; default from the configuration.
    """

    def __init__(self, config: Config, engines: list[Engine] | None = None):
        self.config = config
        if engines is None:
            engines, self.unavailable = candidates(config)
        else:
            self.unavailable = []
        self._candidates = list(engines)
        self.formats = ("svg", "png", "pdf") if config.mermaid_pdf else ("svg", "png")
        self.engine: Engine | None = None
        self.start_error: str | None = None
        self.outcome = RenderOutcome()
        self._starting: asyncio.Task | None = None
        self._jobs: dict[asyncio.Task, str] = {}
        """Background renders and the diagram stem each one writes."""
        self._cache: dict[str, dict[str, bytes]] = {}
        self.submitted = 0
        """Diagrams handed over for rendering during this renderer's life."""

    @property
    def active(self) -> bool:
        """True once `start` has launched (or tried to launch) an engine."""
        return self._starting is not None

    @property
    def disabled(self) -> bool:
        return self.config.mermaid_engine == "none"

    def start(self) -> None:
        """Begin launching the engine in the background; a no-op when started or outside an event loop."""
        if self._starting is None and self._candidates and _running_loop() is not None:
            self._starting = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> Engine | None:
        self.start_error = None
        for engine in self._candidates:
            try:
                await engine.start()
            except RenderEngineError as exc:
                logger.debug(f"mermaid engine {engine.name} did not start: {exc}")
                self.unavailable.append(f"{engine.name}: {exc}")
                continue
            logger.debug(f"mermaid engine: {engine.name}")
            self.engine = engine
            return engine
        self.start_error = "; ".join(self.unavailable) or "no engine configured"
        return None

    async def ready(self) -> Engine | None:
        """The running engine, waiting for it to start; None when none could."""
        self.start()
        return await self._starting if self._starting is not None else None

    async def _restart(self, failed: Engine) -> Engine | None:
        """Replace a crashed engine with a fresh one of the same kind, once."""
        if self.engine is not failed:
            return self.engine
        await failed.close()
        try:
            await failed.start()
        except RenderEngineError as exc:
            self.engine, self.start_error = None, f"{failed.name}: {exc}"
            return None
        return failed

    async def render(self, code: str, formats: tuple[str, ...] | None = None) -> dict[str, bytes]:
        """Render one diagram, retrying once (on a restarted engine) when the engine fails.

        Raises `MermaidSyntaxError` for invalid code and `RenderEngineError` when there is no
        engine or it failed twice.
        """
        formats = formats or self.formats
        key = f"{','.join(formats)}\n{code}"
        if key in self._cache:
            return self._cache[key]
        engine = await self.ready()
        for attempt in (1, 2):
            if engine is None:
                raise RenderEngineError(self.start_error or "no engine")
            try:
                files = await engine.render(code, formats)
            except RenderEngineError as exc:
                if attempt == 2:
                    raise
                logger.warning(f"Rendering a diagram failed ({exc}); retrying once.")
                engine = await self._restart(engine)
                continue
            self._cache[key] = files
            return files
        raise AssertionError("unreachable")  # pragma: no cover

    async def validate(self, code: str) -> str | None:
        """Mermaid's parse error for `code`; None when it parses or cannot be checked here.

        Only the parser runs, so a document waits milliseconds for its check; the picture itself
        is rendered in the background once the document is saved (`submit`).
        """
        engine = await self.ready()
        if engine is None:
            return None
        try:
            return await engine.validate(code)
        except RenderEngineError as exc:
            logger.debug(f"a diagram could not be checked ({exc}); it is rendered later")
            return None

    def submit(self, stem: str, code: str, write: WriteFile) -> None:
        """Render `resources/<stem>.mmd`'s code in the background; `write` saves each file next to it.

        The renderer is handed the writer, not the project, so it knows paths and bytes only.
        """
        self.submitted += 1
        if not self._candidates or _running_loop() is None:
            return
        self.start()
        self._jobs[asyncio.get_running_loop().create_task(self._render_files(stem, code, write))] = stem

    async def _render_files(self, stem: str, code: str, write: WriteFile) -> None:
        try:
            files = await self.render(code)
        except MermaidSyntaxError as exc:
            self.outcome.invalid[stem] = str(exc)
            logger.warning(f"Diagram {stem} does not parse, kept as {RESOURCES_DIR}/{stem}.mmd: {exc}")
            return
        except RenderEngineError as exc:
            self.outcome.failed[stem] = str(exc)
            return
        try:
            for fmt, data in files.items():
                write(f"{RESOURCES_DIR}/{stem}.{fmt}", data)
        except (MetaGPTError, OSError, ValueError) as exc:  # e.g. a link in the way: reported, not fatal
            self.outcome.failed[stem] = str(exc)
            return
        self.outcome.invalid.pop(stem, None)
        self.outcome.failed.pop(stem, None)
        if stem not in self.outcome.rendered:
            self.outcome.rendered.append(stem)

    async def finish(self) -> str:
        """Wait for the submitted diagrams (bounded), then say in one line what became of them."""
        jobs, self._jobs = self._jobs, {}
        if jobs:
            _, pending = await asyncio.wait(jobs, timeout=FINISH_TIMEOUT)
            for job in pending:
                job.cancel()
                self.outcome.failed[jobs[job]] = f"still rendering after {FINISH_TIMEOUT:.0f}s"
        return self.summary()

    def summary(self) -> str:
        """One line: what was rendered, and what to do when rendering is off or failed; empty without diagrams."""
        outcome = self.outcome
        if not self.submitted:
            return ""
        formats = "/".join(f".{fmt}" for fmt in self.formats)
        if self.disabled:
            return "Diagrams: kept as .mmd (MERMAID_ENGINE is none)."
        if not self._candidates or (self.start_error and not outcome.rendered):
            why = self.start_error or "; ".join(self.unavailable) or "no engine"
            return f"Diagrams: kept as .mmd only, no renderer ({why}). To render them, {INSTALL_HINT}."
        parts = [f"{len(outcome.rendered)} rendered to {formats} with {self.engine.name if self.engine else '?'}"]
        if outcome.invalid:
            parts.append(f"{len(outcome.invalid)} invalid, kept as .mmd ({', '.join(outcome.invalid)})")
        if outcome.failed:
            reason = next(iter(outcome.failed.values()))
            parts.append(f"{len(outcome.failed)} not rendered ({reason}); see the log, or set MERMAID_ENGINE")
        return f"Diagrams: {'; '.join(parts)}."

    async def aclose(self) -> None:
        """Stop pending work and the browser; a later call starts a fresh browser."""
        jobs, self._jobs = self._jobs, {}
        for job in jobs:
            job.cancel()
        starting, self._starting = self._starting, None
        if starting is not None and not starting.done():
            starting.cancel()
        self.engine = None
        for engine in self._candidates:
            await engine.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
