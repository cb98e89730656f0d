"""A loopback HTTP server that answers from recorded API responses, for search and embedding tests.

    with RecordedServer({("GET", "/search"): recorded("serpapi_search.json")}) as server:
        engine = SerpAPIEngine("key", base_url=server.base_url)
        ...
        assert server.requests[0].query["q"] == ["..."]

A route maps (method, path) to a function of the request returning (status, JSON body). The
recordings under `recorded/` keep the shape of the real APIs' answers, trimmed to a few results.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).parent / "recorded"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


Route = Callable[[Request], tuple[int, Any]]


def recorded(name: str, status: int = 200) -> Route:
    """A route answering with the recording `recorded/<name>`."""
    body = json.loads((RECORDED / name).read_text(encoding="utf-8"))
    return lambda request: (status, body)


class RecordedServer:
    def __init__(self, routes: dict[tuple[str, str], Route]):
        self.routes = routes
        self.requests: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = Request(
                    self.command,
                    parts.path,
                    urllib.parse.parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                server.requests.append(request)
                route = server.routes.get((self.command, parts.path))
                status, body = route(request) if route else (404, {"error": f"no route {self.command} {parts.path}"})
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> RecordedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
