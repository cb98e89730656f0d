"""`LoopbackServer`: the life cycle and scripting every protocol's test server shares.

A threaded HTTP server on 127.0.0.1 (a free port; optionally TLS) that records each request and
answers it with the next planned reply, then with `handler`. A subclass speaks one wire protocol:
it implements `_serve(http)` and names its `Reply` class as `reply_type`.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackServer:
    """Planned replies first, then `handler(body)`; `requests` and `errors` for the test to read."""

    reply_type: type = object
    """The protocol's reply class: a planned entry of another type is a handler, called with the body."""

    def __init__(self, handler: Callable[[dict[str, Any]], Any], tls: ssl.SSLContext | None = None):
        self.handler = handler
        self.tls = tls
        """A server-side TLS context: the endpoint is then served over https."""
        self.planned: deque[Any] = deque()
        self.requests: list[Any] = []
        self.errors: list[str] = []
        """Failures of the server itself (a handler raising); a test should see none."""
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server._serve(self)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not running"
        return self._httpd.server_address[1]

    # -- scripting and inspection -------------------------------------------------------------

    def plan(self, *replies: Any) -> None:
        """Answer the next requests with these replies (or handlers), in order."""
        self.planned.extend(replies)

    def assert_complete(self) -> None:
        """Fail when planned replies were never requested or the server itself failed."""
        assert not self.errors, f"the test server failed: {self.errors}"
        assert not self.planned, f"{len(self.planned)} planned replies were never requested"

    def _next_reply(self, body: dict[str, Any]) -> Any:
        with self._lock:
            planned = self.planned.popleft() if self.planned else None
        if planned is None:
            return self.handler(body)
        return planned if isinstance(planned, self.reply_type) else planned(body)

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError


@contextlib.asynccontextmanager
async def llm_maker(config_of: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    """`make(**settings)`: an `LLM` on a loopback server, with a context (and budget) of its own,
    built from `config_of(**settings)`; every context is closed on exit."""
    from metagpt.context import Context
    from metagpt.llm import LLM

    contexts: list[Context] = []

    def make(**settings: Any) -> LLM:
        contexts.append(Context(config_of(**settings)))
        return LLM(contexts[-1], role="Tester", stream_sink=lambda delta: None)

    try:
        yield make
    finally:
        for context in contexts:
            await context.aclose()
