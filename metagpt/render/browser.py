"""What every mermaid engine shares: the offline Chromium, the npm packages, the `Engine` interface.

The engines themselves are `metagpt.render.playwright_engine` and `metagpt.render.node_engine`;
`metagpt.render.engines` picks the ones to try.
"""

from __future__ import annotations

import abc
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from metagpt.const import SOURCE_ROOT
from metagpt.exceptions import MermaidSyntaxError

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


def error_text(exc: BaseException) -> str:
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
