"""Diagrams as pictures: mermaid rendered to SVG/PNG/PDF in one browser session per run."""

from metagpt.render.browser import Engine
from metagpt.render.node_engine import NodeEngine
from metagpt.render.playwright_engine import PlaywrightEngine
from metagpt.render.service import DiagramRenderer, RenderOutcome

__all__ = ["DiagramRenderer", "Engine", "NodeEngine", "PlaywrightEngine", "RenderOutcome"]
