"""A scriptable Ollama server on loopback: `POST /api/chat` and `POST /api/show`, nothing else.

The provider's own HTTP client talks to it, so tests exercise the whole wire path: the request
JSON, NDJSON streams, status codes, headers and error bodies.

    with OllamaServer() as server:                      # realistic answers by default
        server.plan(error(503, "server busy, please try again."), answer("hello"))
        config = Config(api_type="ollama", ollama_host=server.host)
        ...
        assert [r.path for r in server.requests] == ["/api/chat", "/api/chat"]

Each chat request is answered by the next planned reply (a `Reply`, or a function of the request
body returning one), or by the server's handler once the plan is used up. The default handler,
`realistic_reply`, answers a whole company run: it reads the request as the OpenAI-shaped one
`tests.e2e.openai_server.realistic_reply` understands (the `format` schema's title is the
document's name) and answers as that server would.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.e2e import openai_server
from tests.e2e.openai_server import apply_stop, stream_pieces
from tests.loopback import LoopbackServer

RETRY_NOW = {"Retry-After": "0"}
"""Headers that make the client retry at once, keeping the suite fast."""

CONTEXT_LENGTH = 131072
"""The context length `/api/show` reports by default (llama3.2's)."""


@dataclass
class Reply:
    """One planned answer to `POST /api/chat`.

    A reply with `text` becomes Ollama's answer object, or an NDJSON stream when the request asked
    for `stream`; a reply with `body` sends that JSON as is (errors, odd answers).
    """

    status: int = 200
    text: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    counts: dict[str, Any] | None = None
    """The token-count fields of the last object (`prompt_eval_count`, `eval_count`, ...), sent as
    given; None estimates both (about four characters a token)."""
    chunks: list[str] | None = None
    """Stream deltas (their join is the text); None splits `text` into words."""
    done_reason: str = "stop"
    cut_after: int | None = None
    """Close the connection after this many content lines (streamed) or half the body (not
    streamed), without the last object."""
    stream_error: str | None = None
    """An `{"error": ...}` line sent after the content lines, in place of the last object."""
    delay: float = 0.0
    """Seconds to wait before answering."""
    line_delay: float = 0.0
    """Seconds to wait before each streamed line (a model that trickles)."""
    raw: Callable[[BaseHTTPRequestHandler], None] | None = None
    """Writes the whole HTTP answer itself (malformed bodies and the like)."""

    def __post_init__(self) -> None:
        if self.text is None and self.chunks is not None:
            self.text = "".join(self.chunks)


Handler = Callable[[dict[str, Any]], Reply]


@dataclass
class Recorded:
    """One request the server received and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    status: int = 0
    counts: dict[str, Any] | None = None
    """The token counts sent on the last object, if it was sent."""
    text: str | None = None
    """The answer text sent, after stop sequences were applied."""


def counts(prompt: int | None, completion: int | None, cached: int | None = None) -> dict[str, int]:
    """Token-count fields as Ollama sends them; a None count is left out (as for a cached prompt)."""
    fields = {"prompt_eval_count": prompt, "eval_count": completion, "prompt_eval_cached_count": cached}
    return {name: value for name, value in fields.items() if value is not None}


def answer(text: str | None = None, **kwargs: Any) -> Reply:
    """A successful answer with `text`, or with `chunks=[...]` (streamed when the request streams)."""
    return Reply(text=text, **kwargs)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An error in Ollama's shape: `{"error": "<message>"}`."""
    return Reply(status=status, body={"error": message}, headers=dict(headers or {}))


def malformed(data: bytes = b'{"model": "llama3.2", "message": {"content": "Hal') -> Reply:
    """A 200 answer whose body is not JSON (one such line, when streamed)."""

    def send(http: BaseHTTPRequestHandler) -> None:
        http.send_response(200)
        http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(data)))
        http.end_headers()
        http.wfile.write(data)

    return Reply(raw=send)


def estimate_counts(request: dict[str, Any], text: str) -> dict[str, int]:
    """Token counts as a simple server would report them: about four characters a token."""
    prompt = "".join(str(m.get("content") or "") for m in request.get("messages", []))
    return counts(max(1, len(prompt) // 4), max(1, len(text) // 4))


def openai_shaped(body: dict[str, Any]) -> dict[str, Any]:
    """The chat-completions request that asks what this `/api/chat` body asks."""
    request: dict[str, Any] = {"model": body.get("model"), "messages": body.get("messages", [])}
    schema = body.get("format")
    if isinstance(schema, dict):
        spec = {"name": schema.get("title", ""), "schema": schema, "strict": False}
        request["response_format"] = {"type": "json_schema", "json_schema": spec}
    elif schema == "json":
        request["response_format"] = {"type": "json_object"}
    return request


def realistic_reply(body: dict[str, Any]) -> Reply:
    """Answer like a capable model, as the OpenAI test server does, in Ollama's shape."""
    reply = openai_server.realistic_reply(openai_shaped(body))
    if reply.status != 200:
        return error(reply.status, reply.body["error"]["message"])
    return answer(reply.text)


class OllamaServer(LoopbackServer):
    """A loopback Ollama that records every request.

    Args:
        handler: answers chat requests once the planned replies are used up; `realistic_reply`
            by default.
    """

    reply_type = Reply

    def __init__(self, handler: Handler | None = None):
        super().__init__(handler or realistic_reply)
        self.context_length: int | None = CONTEXT_LENGTH
        """What `/api/show` reports as the model's context length; None answers it with a 404."""

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address as `OLLAMA_HOST` takes it: `127.0.0.1:<port>`."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    # -- scripting and inspection -------------------------------------------------------------

    @property
    def chats(self) -> list[Recorded]:
        """The `/api/chat` requests, in order."""
        return [r for r in self.requests if r.path == "/api/chat"]

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of every chat request, in order."""
        return [r.body for r in self.chats]

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        path = http.path.split("?")[0]
        record = Recorded(http.command, path, {k.lower(): v for k, v in http.headers.items()}, body)
        with self._lock:
            self.requests.append(record)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (time-outs)
            if (http.command, path) == ("POST", "/api/chat"):
                try:
                    reply = self._next_reply(body)
                except Exception as exc:  # a broken test handler: fail loudly, without retries
                    self.errors.append(repr(exc))
                    reply = error(418, f"test server handler failed: {exc!r}")
                record.status = reply.status
                time.sleep(reply.delay)
                self._send(http, body, reply, record)
            elif (http.command, path) == ("POST", "/api/show"):
                record.status = 200 if self.context_length is not None else 404
                _send_json(http, record.status, self._show(body), {})
            else:  # as Ollama's router answers: plain text
                record.status = 404
                _send_bytes(http, 404, b"404 page not found", "text/plain", {})

    def _show(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.context_length is None:
            return {"error": f"model '{body.get('model')}' not found"}
        info = {"general.architecture": "llama", "general.parameter_count": 3212749888}
        return {
            "details": {"format": "gguf", "family": "llama"},
            "model_info": {**info, "llama.context_length": self.context_length},
        }

    def _send(self, http: BaseHTTPRequestHandler, body: dict[str, Any], reply: Reply, record: Recorded) -> None:
        if reply.raw is not None:
            reply.raw(http)
            return
        if reply.status != 200 or reply.text is None:
            _send_json(http, reply.status, reply.body, reply.headers)
            return
        text = apply_stop(reply.text, (body.get("options") or {}).get("stop"))
        record.text = text
        sent = reply.counts if reply.counts is not None else estimate_counts(body, text)
        last = {
            **_object(body, ""),
            "done": True,
            "done_reason": reply.done_reason,
            "total_duration": 1_000_000,
            "load_duration": 10_000,
            **sent,
        }
        if body.get("stream", True):  # Ollama streams unless told not to
            pieces = reply.chunks if reply.chunks is not None else stream_pieces(text)
            lines = [{**_object(body, piece), "done": False} for piece in pieces[: reply.cut_after]]
            if reply.stream_error is not None:
                lines.append({"error": reply.stream_error})
            elif reply.cut_after is None:
                lines.append(last)
                record.counts = sent
            _send_stream(http, lines, reply.headers, reply.line_delay)
            return
        data = json.dumps({**last, "message": {"role": "assistant", "content": text}}).encode()
        if reply.cut_after is not None:
            _send_bytes(http, 200, data[: len(data) // 2], "application/json", reply.headers, length=len(data))
            return
        record.counts = sent
        _send_bytes(http, 200, data, "application/json", reply.headers)


def _object(request: dict[str, Any], content: str) -> dict[str, Any]:
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    return {
        "model": request.get("model", ""),
        "created_at": created,
        "message": {"role": "assistant", "content": content},
    }


def _send_json(http: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str]) -> None:
    _send_bytes(http, status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)


def _send_bytes(
    http: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    content_type: str,
    headers: dict[str, str],
    length: int | None = None,
) -> None:
    """One whole answer; `length` announces more bytes than `data` to cut it short."""
    http.send_response(status)
    http.send_header("Content-Type", content_type)
    http.send_header("Content-Length", str(len(data) if length is None else length))
    http.send_header("Connection", "close")
    for name, value in headers.items():
        http.send_header(name, value)
    http.end_headers()
    http.wfile.write(data)
    http.wfile.flush()


def _send_stream(
    http: BaseHTTPRequestHandler, lines: list[dict[str, Any]], headers: dict[str, str], delay: float = 0.0
) -> None:
    """NDJSON, one object a line, the connection closed at the end (HTTP/1.0)."""
    http.send_response(200)
    http.send_header("Content-Type", "application/x-ndjson")
    http.send_header("Connection", "close")
    for name, value in headers.items():
        http.send_header(name, value)
    http.end_headers()
    for line in lines:
        time.sleep(delay)
        http.wfile.write(json.dumps(line).encode() + b"\n")
        http.wfile.flush()
