"""The pages of `metagpt serve`, server-rendered; `static/app.js` keeps them live."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from metagpt.const import DOCS_DIR, STATE_DB
from metagpt.web import events, history, projects, render
from metagpt.web.server import IMAGE_CSP, Problem, Server, name_of


async def index(request: Request) -> Response:
    server: Server = request.app.state.server
    return server.page("index.html", projects=await asyncio.to_thread(server.all_projects))


def _project_view(server: Server, name: str) -> dict[str, Any]:
    """What the project page shows, and the event cursor its live stream continues from."""
    info = server.status_of(name)
    root = server.workspace / name
    if not (root / STATE_DB).is_file():
        return {"info": info, "calls": [], "files": [], "documents": [], "commits": [], "stages": [], "messages": [],
                "cursor": ""}  # fmt: skip
    commits = server.commits(root)
    steps, cursor = events.collect(root, events.Cursor(), commits)
    by_kind: dict[str, list[dict[str, Any]]] = {"stage": [], "call": [], "message": []}
    for step in steps:
        by_kind.setdefault(step.kind, []).append(step.data)
    return {"info": info, "calls": by_kind["call"], "stages": by_kind["stage"], "messages": by_kind["message"],
            "files": file_tree(projects.project_files(root)), "commits": list(reversed(commits)),
            "documents": projects.documents(root), "cursor": str(cursor)}  # fmt: skip


def file_tree(paths: list[str]) -> list[dict[str, Any]]:
    """Paths as nested folders: `[{"name", "path"}]` for files, `[{"name", "children"}]` for folders first."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        *folders, leaf = path.split("/")
        for folder in folders:
            node = node.setdefault(folder + "/", {})
        node[leaf] = path

    def items(node: dict[str, Any]) -> list[dict[str, Any]]:
        folders = [{"name": k, "children": items(v)} for k, v in sorted(node.items()) if isinstance(v, dict)]
        files = [{"name": k, "path": v} for k, v in sorted(node.items()) if isinstance(v, str)]
        return folders + files

    return items(root)


async def project_page(request: Request) -> Response:
    server: Server = request.app.state.server
    name = name_of(request)
    if server.runs.get(name) is None:
        server.root(name)
    view = await asyncio.to_thread(_project_view, server, name)
    return server.page("project.html", name=name, **view)


async def document_page(request: Request) -> Response:
    server: Server = request.app.state.server
    name = name_of(request)
    root = server.root(name)
    path = f"{DOCS_DIR}/{request.path_params['path']}"
    if path not in projects.documents(root):
        raise Problem(404, "no such document")
    text = await asyncio.to_thread(projects.read_file, server.workspace, name, path)
    pictures = await asyncio.to_thread(render.diagram_pictures, root)
    body = render.markdown(text, pictures, f"/projects/{name}/pictures/")
    return server.page("document.html", name=name, path=path, body=body)


async def code_page(request: Request) -> Response:
    server: Server = request.app.state.server
    name = name_of(request)
    path = request.path_params["path"]
    try:
        text = await asyncio.to_thread(projects.read_file, server.workspace, name, path)
    except projects.NotFound:
        raise Problem(404, "no such file") from None
    body = render.highlight(text, filename=path.rsplit("/", 1)[-1])
    return server.page("code.html", name=name, path=path, body=body)


async def commit_page(request: Request) -> Response:
    server: Server = request.app.state.server
    name = name_of(request)
    text = await asyncio.to_thread(history.diff, server.root(name), request.path_params["sha"])
    if text is None:
        raise Problem(404, "no such commit")
    body = render.highlight(text, language="diff")
    sha = request.path_params["sha"]
    return server.page("commit.html", name=name, sha=sha, body=body)


async def picture(request: Request) -> Response:
    """A rendered diagram (`resources/*.svg|png`), as an image that cannot run script."""
    server: Server = request.app.state.server
    name = name_of(request)
    path = request.path_params["path"]
    kind = {"svg": "image/svg+xml", "png": "image/png"}.get(path.rsplit(".", 1)[-1])
    if kind is None or not path.startswith("resources/"):
        raise Problem(404, "no such picture")
    from metagpt.utils.safe_read import UnsafeFile, read_bytes

    try:
        data = await asyncio.to_thread(read_bytes, server.root(name), path, projects.MAX_FILE_BYTES * 4)
    except UnsafeFile:
        raise Problem(404, "no such picture") from None
    response = Response(data, media_type=kind)
    response.headers["content-security-policy"] = IMAGE_CSP.decode()
    return response


async def problem(request: Request, exc: Exception) -> Response:
    status = cast(int, getattr(exc, "status", None) or getattr(exc, "status_code", 500))  # an HTTP status
    message = str(exc) if isinstance(exc, Problem) else getattr(exc, "detail", "error")
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    server: Server = request.app.state.server
    response = server.page("error.html", status=status, message=message)
    response.status_code = status
    return response


async def not_found(request: Request, exc: Exception) -> Response:
    return await problem(request, Problem(404, "not found"))
