"""Mermaid rendering engines: one browser session each, started once and reused for every diagram.

* `NodeEngine` (`nodejs`, `metagpt.render.node_engine`): mermaid-cli's renderer in a Node process,
  on the system Chromium through a puppeteer launch config (puppeteer's own browser is never
  downloaded).
* `PlaywrightEngine` (`playwright`, `metagpt.render.playwright_engine`): Python's playwright drives
  the system Chromium on one page that has loaded the locally installed mermaid bundle.

Both render to SVG, PNG or PDF and report mermaid's parse errors as `MermaidSyntaxError`; a
browser that fails, crashes or hangs raises `RenderEngineError`. What they share (finding the
browser and the npm packages, the `Engine` interface) is `metagpt.render.browser`; this module
picks the engines to try.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metagpt.render.browser import (
    CHROMIUM_ARGS,
    FORMATS,
    INSTALL_HINT,
    MERMAID_BUNDLE,
    MERMAID_CLI,
    Engine,
    find_bundle,
    find_chromium,
    find_package,
)
from metagpt.render.node_engine import NodeEngine
from metagpt.render.playwright_engine import PlaywrightEngine

if TYPE_CHECKING:
    from metagpt.configs.settings import Config

__all__ = [
    "AUTO_ORDER",
    "CHROMIUM_ARGS",
    "ENGINES",
    "FORMATS",
    "INSTALL_HINT",
    "MERMAID_BUNDLE",
    "MERMAID_CLI",
    "Engine",
    "NodeEngine",
    "PlaywrightEngine",
    "candidates",
    "find_bundle",
    "find_chromium",
    "find_package",
]

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
