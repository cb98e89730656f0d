"""`metagpt serve`: the browser UI (`metagpt.web`) on a local port.

    metagpt serve [--host 127.0.0.1] [--port 8000] [--workspace DIR] [--token T] [--max-runs N]

Prints one line, `Serving on http://HOST:PORT/` (the chosen port with `--port 0`), then serves
until Ctrl-C. Bound to loopback by default; any other address needs `--token` (or
`--token auto`: one is generated and printed in that line's URL, once).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
from pathlib import Path
from typing import Annotated

import typer


def _fail(message: str) -> typer.Exit:
    from metagpt.logs import echo

    echo(f"Error: {message}", err=True)
    return typer.Exit(2)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; anything but loopback needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free one, printed).", min=0, max=65535)] = 8000,
    workspace: Annotated[
        Path | None, typer.Option(help="The projects' folder [default: the configured workspace].")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Required of every request (Bearer or ?token=); `auto` generates one.")
    ] = None,
    max_runs: Annotated[int, typer.Option(help="Runs at once; more wait in a queue.", min=1)] = 2,
    allow_host: Annotated[
        list[str] | None, typer.Option("--allow-host", help="Another name the server answers for (repeatable).")
    ] = None,
) -> None:
    """Watch, start, stop, resume and change runs from a browser."""
    from metagpt.web.security import is_loopback

    try:
        import uvicorn

        from metagpt.web.app import Settings, create_app
    except ImportError as exc:
        raise _fail(f'the web UI needs the web extra ({exc.name} is missing): pip install "metagpt[web]"') from None
    if token == "auto":
        token = secrets.token_urlsafe(24)
    if token is not None and len(token) < 16:
        raise _fail("--token must be at least 16 characters (or `auto`).")
    if not is_loopback(host) and not token:
        raise _fail(
            f"--host {host} is reachable from other machines: give --token T (16+ characters) or --token auto, "
            "or keep the default --host 127.0.0.1."
        )
    if workspace is None:
        from metagpt.config import Config

        workspace = Config.default().resolve_workspace()
    workspace.mkdir(parents=True, exist_ok=True)
    try:
        sock = _bind(host, port)
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another --port.") from None
    chosen = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    settings = Settings(workspace, chosen, host, token, max_runs, set(allow_host or ()) | _own_names(host))
    app = create_app(settings)
    print(f"Serving on http://{shown}:{chosen}/" + (f"?token={token}" if token else ""), flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _own_names(host: str) -> set[str]:
    """For a wildcard bind: this machine's names and addresses, which a browser may use."""
    if host not in ("0.0.0.0", "::"):
        return set()
    names = {socket.gethostname(), socket.getfqdn()}
    with contextlib.suppress(OSError):
        names |= set(socket.gethostbyname_ex(socket.gethostname())[2])
    return names
