"""The state behind every route: the workspace, the child runs, the templates; request helpers."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from metagpt.exceptions import UserError
from metagpt.web import history, projects
from metagpt.web.runs import Runs
from metagpt.web.watch import Watch

MAX_IDEA_CHARS = 20_000
IMAGE_CSP = b"default-src 'none'; style-src 'unsafe-inline'; sandbox"
"""Diagram pictures: an SVG opened on its own runs no script and loads nothing."""


@dataclass
class Settings:
    workspace: Path
    port: int
    host: str = "127.0.0.1"
    token: str | None = None
    max_runs: int = 2
    allowed_hosts: set[str] = field(default_factory=set)
    env: dict[str, str] | None = None
    """The children's environment (default: the server's)."""


class Problem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Server:
    """The state behind the routes: the workspace, the child runs and the templates."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.workspace = settings.workspace.resolve()
        self.runs = Runs(self.workspace, settings.max_runs, settings.env)
        self.commits = history.CommitCache()
        self._watches: dict[str, Watch] = {}
        self.templates = Environment(
            loader=PackageLoader("metagpt.web", "templates"), autoescape=select_autoescape(default=True)
        )
        self.templates.filters["when"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"
        self.templates.filters["money"] = lambda v: f"${v or 0:.4f}"

    # -- what the routes read ---------------------------------------------------------------------

    def status_of(self, name: str) -> dict[str, Any]:
        """The project's summary, its status corrected by what the server knows of its child run."""
        run = self.runs.get(name)
        try:
            info = projects.summary(self.workspace, name)
        except (projects.NotFound, UserError):
            if run is None:
                raise projects.NotFound(name) from None
            # no folder yet: queued, starting, stopped while queued, or the CLI failed before making one
            cancelled = run.state == "cancelled"
            reason = "stopped before it started" if cancelled else run.last_line()
            info = {"name": name, "idea": run.idea, "status": "interrupted" if cancelled else "failed", "spent": 0.0,
                    "investment": None, "updated_at": run.queued_at, "stop_reason": reason}  # fmt: skip
        if run is not None and run.active:
            info["status"] = "running"
        info["queued"] = run is not None and run.state == "queued"
        return info

    def all_projects(self) -> list[dict[str, Any]]:
        names = set(projects.list_names(self.workspace))
        names |= set(self.runs.names())  # a queued run has no folder yet, nor one that failed at once
        found = []
        for name in names:
            with contextlib.suppress(projects.NotFound, UserError):
                found.append(self.status_of(name))
        return sorted(found, key=lambda p: p["updated_at"] or 0, reverse=True)

    def watch(self, name: str, root_of: Callable[[], Path | None], status_of: Callable[[], dict[str, Any]]) -> Watch:
        """The one poller of project `name` its event streams share (made for the first of them)."""
        watch = self._watches.get(name)
        if watch is None:
            watch = Watch(root_of, status_of, on_idle=lambda: self._watches.pop(name, None))
            self._watches[name] = watch
        return watch

    def root(self, name: str) -> Path:
        try:
            return projects.project_dir(self.workspace, name)
        except projects.NotFound:
            raise Problem(404, f"no project {name!r}") from None

    def page(self, template: str, **values: Any) -> HTMLResponse:
        return HTMLResponse(self.templates.get_template(template).render(**values))


def name_of(request: Request) -> str:
    name = request.path_params["name"]
    if not projects.valid_name(name):
        raise Problem(404, "no such project")
    return name


async def read_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Problem(415, "send JSON (Content-Type: application/json)")
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise Problem(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise Problem(400, "the body must be a JSON object")
    return body


@overload
def text_field(body: dict, key: str, required: Literal[True]) -> str: ...
@overload
def text_field(body: dict, key: str, required: bool = False) -> str | None: ...
def text_field(body: dict, key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_IDEA_CHARS:
        raise Problem(400, f"{key} must be a non-empty string of at most {MAX_IDEA_CHARS} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Problem(400, f"{key} holds text that is not UTF-8 (a lone surrogate)") from None
    if "\0" in value:
        raise Problem(400, f"{key} holds a NUL character")
    return value


def money_field(body: dict) -> str | None:
    value = body.get("investment")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 10_000:
        raise Problem(400, "investment must be a number of dollars above 0")
    return repr(float(value))
