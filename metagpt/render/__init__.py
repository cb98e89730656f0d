"""Diagrams as pictures: mermaid rendered to SVG/PNG/PDF in one browser session per run."""

from metagpt.render.engines import Engine, NodeEngine, PlaywrightEngine
from metagpt.render.service import DiagramRenderer, RenderOutcome

__all__ = ["DiagramRenderer", "Engine", "NodeEngine", "PlaywrightEngine", "RenderOutcome"]
