"""The routes of `metagpt serve`: pages, the JSON API and the event streams.

    app = create_app(Settings(workspace=Path("workspace"), port=8000))

Pages are server-rendered (Jinja2, autoescaped) and updated by `static/app.js` over the
`events` stream; every route reads projects through `projects`, `history` and `events`, and
starts runs only through `runs` (CLI child processes). `security.GuardMiddleware` sits in
front of all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from metagpt.web import api, pages, projects
from metagpt.web.security import Guard, GuardMiddleware
from metagpt.web.server import Problem, Server, Settings


def create_app(settings: Settings) -> Any:
    """The ASGI app: the routes behind `GuardMiddleware`."""
    server = Server(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        watcher = asyncio.create_task(server.runs.watch())
        try:
            yield
        finally:
            watcher.cancel()
            server.runs.close()

    static = StaticFiles(directory=str(Path(__file__).parent / "static"))
    routes = [
        Route("/", pages.index),
        Route("/projects/{name}", pages.project_page),
        Route("/projects/{name}/docs/{path:path}", pages.document_page),
        Route("/projects/{name}/code/{path:path}", pages.code_page),
        Route("/projects/{name}/commits/{sha}", pages.commit_page),
        Route("/projects/{name}/pictures/{path:path}", pages.picture),
        Route("/api/projects", api.api_projects),
        Route("/api/projects/{name}", api.api_project),
        Route("/api/projects/{name}/files/{path:path}", api.api_file),
        Route("/api/projects/{name}/events", api.api_events),
        Route("/api/runs", api.api_start, methods=["POST"]),
        Route("/api/projects/{name}/stop", api.api_stop, methods=["POST"]),
        Route("/api/projects/{name}/resume", api.api_resume, methods=["POST"]),
        Route("/api/projects/{name}/changes", api.api_change, methods=["POST"]),
        Mount("/static", static, name="static"),
    ]
    handlers = {Problem: pages.problem, projects.NotFound: pages.not_found, 404: pages.problem, 405: pages.problem}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    app.state.server = server
    guard = Guard(settings.port, settings.host, settings.token, set(settings.allowed_hosts))
    return GuardMiddleware(app, guard)
