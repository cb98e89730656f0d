"""Misbehaving answers for the loopback server of `tests/e2e/openai_server.py`.

Each function returns a `Reply` that writes its own HTTP answer: a page that is not JSON, JSON
that is not a completion, a body cut short, or one trickled a byte at a time. Every trickle is
bounded in time and stops when the client hangs up, so no test leaves a thread behind.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from metagpt.actions import SystemDesign
from tests.e2e.openai_server import Reply, answer, sample_document, usage

TRICKLE_LIMIT = 30.0
"""Seconds after which a trickle stops by itself, whatever the client does."""

released = threading.Event()
"""Set by tests to end every running trickle at once."""


def _head(http: BaseHTTPRequestHandler, content_type: str, length: int | None) -> None:
    http.send_response(200)
    http.send_header("Content-Type", content_type)
    if length is not None:
        http.send_header("Content-Length", str(length))
    http.send_header("Connection", "close")
    http.end_headers()
    http.wfile.flush()


def raw_body(data: bytes, content_type: str = "application/json") -> Reply:
    """A 200 answer whose body is exactly `data`."""

    def send(http: BaseHTTPRequestHandler) -> None:
        _head(http, content_type, len(data))
        http.wfile.write(data)

    return Reply(raw=send)


def html_page() -> Reply:
    """What a captive portal or a misrouted proxy sends: a web page with status 200."""
    return raw_body(b"<!doctype html><html><body><h1>Welcome</h1></body></html>", "text/html")


def invalid_json() -> Reply:
    return raw_body(b'{"id": "chatcmpl-1", "choices": [')


def no_choices() -> Reply:
    completion = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
    return raw_body(json.dumps(completion).encode())


def cut_body() -> Reply:
    """Headers announce 2000 bytes; 40 arrive, then the connection closes."""

    def send(http: BaseHTTPRequestHandler) -> None:
        _head(http, "application/json", 2000)
        http.wfile.write(b'{"id": "chatcmpl-1", "object": "chat.comp')
        http.wfile.flush()

    return Reply(raw=send)


def trickle(seconds: float = TRICKLE_LIMIT, interval: float = 0.2, stream: bool = False) -> Reply:
    """A valid-looking answer sent one byte every `interval` seconds, for at most `seconds`.

    Each byte arrives well within any read time-out, so only a deadline on the whole request
    ends the call early.
    """

    def send(http: BaseHTTPRequestHandler) -> None:
        _head(http, "text/event-stream" if stream else "application/json", None if stream else 100_000)
        prefix = b"data: " if stream else b""
        ends = time.monotonic() + min(seconds, TRICKLE_LIMIT)
        http.wfile.write(prefix + b'{"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "')
        while time.monotonic() < ends and not released.is_set():
            http.wfile.write(b"a")
            http.wfile.flush()
            time.sleep(interval)

    return Reply(raw=send)


def lying_usage(prompt_tokens: int, completion_tokens: int, text: str = "OK") -> Reply:
    """A normal answer whose reported usage is whatever the test says."""
    return answer(text, usage=usage(prompt_tokens, completion_tokens))


def design_with(package: str, files: list[str]) -> dict[str, Any]:
    """A system design (as the server's JSON) naming `package` and `files`."""
    return {**sample_document(SystemDesign), "python_package_name": package, "file_list": files}
