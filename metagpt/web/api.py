"""The JSON API of `metagpt serve` (the pages use it; scripts can too) and the event streams."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from metagpt.const import STATE_DB, STATE_DIR
from metagpt.exceptions import UserError
from metagpt.web import events, projects
from metagpt.web.runs import stop_foreign
from metagpt.web.server import Problem, Server, money_field, name_of, read_body, text_field


async def api_projects(request: Request) -> Response:
    server: Server = request.app.state.server
    return JSONResponse(await asyncio.to_thread(server.all_projects))


async def api_project(request: Request) -> Response:
    server: Server = request.app.state.server
    name = name_of(request)
    root = server.root(name)
    info = await asyncio.to_thread(server.status_of, name)
    more = await asyncio.to_thread(projects.detail, server.workspace, name)
    return JSONResponse({**more, **info, "path": str(root)})


async def api_file(request: Request) -> Response:
    server: Server = request.app.state.server
    try:
        path = request.path_params["path"]
        text = await asyncio.to_thread(projects.read_file, server.workspace, name_of(request), path)
    except projects.NotFound:
        raise Problem(404, "no such file") from None
    return PlainTextResponse(text, headers={"content-disposition": "inline"})


async def api_events(request: Request) -> Response:
    server: Server = request.app.state.server
    name = name_of(request)
    if server.runs.get(name) is None:
        server.root(name)
    cursor = events.Cursor.parse(request.headers.get("last-event-id") or request.query_params.get("after"))

    def root_of() -> Path | None:
        path = server.workspace / name
        return path if (path / STATE_DB).is_file() and not path.is_symlink() else None

    def status_of() -> dict[str, Any]:
        try:
            return server.status_of(name)
        except (projects.NotFound, UserError):
            return {"name": name, "status": "failed"}

    stream = events.stream(server.watch(name, root_of, status_of), cursor, commits_of=server.commits)
    return StreamingResponse(stream, media_type="text/event-stream", headers={"cache-control": "no-store"})


async def api_start(request: Request) -> Response:
    server: Server = request.app.state.server
    body = await read_body(request)
    idea = text_field(body, "idea", required=True)
    wanted = text_field(body, "project_name")
    investment = money_field(body)
    n_round = body.get("n_round")
    if n_round is not None and (isinstance(n_round, bool) or not isinstance(n_round, int) or not 1 <= n_round <= 100):
        raise Problem(400, "n_round must be a whole number from 1 to 100")
    run_tests = body.get("run_tests", False)
    if not isinstance(run_tests, bool):
        raise Problem(400, "run_tests must be true or false")
    name = server.runs.free_name(wanted or idea, fixed=wanted is not None)
    args = ["--project-name", name]
    args += ["--investment", investment] if investment else []
    args += ["--n-round", str(n_round)] if n_round else []
    args += ["--run-tests"] if run_tests else []
    server.runs.submit(name, [*args, "--", idea], "new", idea)
    return JSONResponse({"project": name}, status_code=201)


def _refuse_running(server: Server, name: str) -> None:
    if server.status_of(name)["status"] == "running":
        raise Problem(409, f"{name} is running; stop it first")


async def api_stop(request: Request) -> Response:
    server: Server = request.app.state.server
    name = name_of(request)
    if server.runs.stop(name):
        return JSONResponse({"project": name, "stopping": True}, status_code=202)
    root = server.root(name)
    info = server.status_of(name)
    if info["status"] != "running":
        raise Problem(409, f"{name} is not running ({info['status']})")
    owner = projects.lock_owner(root / STATE_DIR)  # the process that holds the project: a CLI run
    if owner is None or not stop_foreign(owner):
        raise Problem(409, f"cannot stop {name}: its process is not ours to signal")
    return JSONResponse({"project": name, "stopping": True}, status_code=202)


async def api_resume(request: Request) -> Response:
    server: Server = request.app.state.server
    name = name_of(request)
    root = server.root(name)
    body = await read_body(request)
    _refuse_running(server, name)
    investment = money_field(body)
    args = ["resume", str(root), *(["--investment", investment] if investment else [])]
    server.runs.submit(name, args, "resume", server.status_of(name)["idea"])
    return JSONResponse({"project": name}, status_code=202)


async def api_change(request: Request) -> Response:
    server: Server = request.app.state.server
    name = name_of(request)
    root = server.root(name)
    body = await read_body(request)
    change = text_field(body, "request", required=True)
    _refuse_running(server, name)
    investment = money_field(body)
    args = ["--project-path", str(root), *(["--investment", investment] if investment else []), "--", change]
    server.runs.submit(name, args, "change", server.status_of(name)["idea"])
    return JSONResponse({"project": name}, status_code=202)
