"""A scriptable loopback server speaking Google's Gemini API, for the Gemini provider's tests.

It serves only that protocol: `POST /v1beta/models/{model}:generateContent` (JSON) and
`:streamGenerateContent?alt=sse` (server-sent events), authenticated by the `x-goog-api-key`
header, with errors in Google's shape (`{"error": {"code", "message", "status", "details"}}`).
The real `google-genai` SDK talks to it over HTTP.

Each request is answered by the next planned reply (a `Reply`, or a function of the request
body returning one), or by the handler once the plan is used up. The default handler,
`realistic_reply`, answers a whole company run: it reads the request as the OpenAI-shaped chat
`tests.e2e.openai_server.realistic_reply` understands (`chat_request`), and rejects response
schemas with keywords outside Gemini's dialect, as the API does.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from metagpt.config import Config
from metagpt.cost_manager import TOKEN_PRICES
from tests.e2e import openai_server
from tests.e2e.openai_server import apply_stop, requested_document, stream_pieces
from tests.loopback import LoopbackServer

API_KEY = "gemini-test-key"
MODEL = "gemini-2.5-flash"
"""The model the tests ask for: Gemini's default, priced."""
RETRY_NOW = {"Retry-After": "0"}
"""Headers that make the client retry at once, keeping the suite fast."""

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
"""The `google.rpc.Code` name Gemini sends with each HTTP status."""

SCHEMA_KEYWORDS = frozenset(
    {"type", "format", "title", "description", "nullable", "enum", "items", "prefixItems", "minItems", "maxItems"}
    | {"minimum", "maximum", "anyOf", "properties", "required", "propertyOrdering"}
)
"""What the realistic handler accepts in a response schema."""

_PATH = re.compile(r"^/v1beta/models/([^/:]+):(generateContent|streamGenerateContent)$")


@dataclass
class Reply:
    """One planned HTTP answer.

    A reply with `text` (or `chunks`) becomes a `GenerateContentResponse`, or an SSE stream of
    them when the request streams; a reply with `body` sends that JSON as is (errors).
    """

    status: int = 200
    text: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] | None = None
    """`usageMetadata` to report; None estimates it from the request and the answer (4 chars a token)."""
    report_usage: bool = True
    """False leaves `usageMetadata` out."""
    chunks: list[str] | None = None
    """Stream pieces (their join is the text); None splits `text` into words."""
    finish_reason: str = "STOP"
    cut_after: int | None = None
    """Stream only: close the connection after this many pieces, before the finishing chunk."""
    raw: Callable[[BaseHTTPRequestHandler], None] | None = None
    """Writes the whole HTTP answer itself: malformed bodies, connections cut short."""

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
    usage: dict[str, int] | None = None
    """The `usageMetadata` reported to the client, if any."""
    text: str | None = None
    """The answer text sent, after stop sequences were applied."""


def usage(prompt: int, candidates: int, cached: int = 0, thoughts: int = 0) -> dict[str, int]:
    """`usageMetadata` as Gemini reports it (cached tokens are part of the prompt's)."""
    metadata = {"promptTokenCount": prompt, "candidatesTokenCount": candidates}
    if cached:
        metadata["cachedContentTokenCount"] = cached
    if thoughts:
        metadata["thoughtsTokenCount"] = thoughts
    return {**metadata, "totalTokenCount": prompt + candidates + thoughts}


def answer(text: str | None = None, **kwargs: Any) -> Reply:
    """A successful answer with `text`, or with `chunks=[...]` (streamed when the request streams)."""
    return Reply(text=text, **kwargs)


def error(status: int, message: str, *, details: list[dict] | None = None, headers: dict | None = None) -> Reply:
    """An error in Google's shape: `{"error": {"code", "message", "status", "details"}}`."""
    body: dict[str, Any] = {"code": status, "message": message, "status": STATUS_NAMES[status]}
    if details:
        body["details"] = details
    return Reply(status=status, body={"error": body}, headers=dict(headers or {}))


def retry_info(delay: str) -> dict[str, str]:
    """The `RetryInfo` detail of a 429: `retryDelay` like `"12s"`."""
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def quota_failure(quota_id: str) -> dict[str, Any]:
    """The `QuotaFailure` detail of a 429, naming the quota (`...PerMinute...`, `...PerDay...`)."""
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    violation = {"quotaMetric": metric, "quotaId": quota_id, "quotaValue": "10"}
    return {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]}


def malformed(payload: bytes, content_length: int | None = None, content_type: str = "application/json") -> Reply:
    """A 200 answer whose body is `payload`; a `content_length` above its size cuts the body short."""

    def write(http: BaseHTTPRequestHandler) -> None:
        _start(http, 200, content_type, {"Content-Length": str(content_length or len(payload))})
        http.wfile.write(payload)
        http.wfile.flush()

    return Reply(raw=write)


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """A Gemini request as the OpenAI-shaped chat `tests.e2e.openai_server` answers.

    The schema goes in `response_format`, named after the document the prompt asks for.
    """
    messages = []
    system = "\n\n".join(part.get("text", "") for part in (body.get("systemInstruction") or {}).get("parts", []))
    if system:
        messages.append({"role": "system", "content": system})
    for content in body.get("contents", []):
        role = "assistant" if content.get("role") == "model" else "user"
        messages.append({"role": role, "content": "\n\n".join(p.get("text", "") for p in content.get("parts", []))})
    config = body.get("generationConfig") or {}
    chat: dict[str, Any] = {
        "messages": messages,
        "max_tokens": config.get("maxOutputTokens"),
        "temperature": config.get("temperature"),
        "stop": config.get("stopSequences") or [],
    }
    if config.get("responseMimeType") == "application/json":
        document = requested_document({"messages": messages})
        name = document.__name__ if document is not None else "Answer"
        schema = config.get("responseJsonSchema") or {}
        chat["response_format"] = {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
    return chat


def schema_problem(schema: Any, where: str = "response_json_schema") -> str | None:
    """The first keyword of `schema` outside Gemini's dialect, as the API reports it; None if none."""
    if not isinstance(schema, dict):
        return None
    for key, value in schema.items():
        if key not in SCHEMA_KEYWORDS:
            return f"Invalid JSON payload received. Unknown name \"{key}\" at 'generation_config.{where}'."
        children = value.values() if key == "properties" else value if isinstance(value, list) else [value]
        for child in children if key in ("properties", "items", "anyOf", "prefixItems") else []:
            problem = schema_problem(child, f"{where}.{key}")
            if problem:
                return problem
    return None


def realistic_reply(body: dict[str, Any]) -> Reply:
    """Answer like a capable Gemini model: valid documents, code blocks, the API's schema checks."""
    problem = schema_problem((body.get("generationConfig") or {}).get("responseJsonSchema"))
    if problem:
        return error(400, problem)
    reply = openai_server.realistic_reply(chat_request(body))
    if reply.status != 200:
        return error(reply.status, reply.body["error"]["message"])
    return answer(reply.text)


def estimate_usage(body: dict[str, Any], text: str) -> dict[str, int]:
    """Token counts as a simple server would report them: about four characters a token."""
    prompt = "".join(m["content"] for m in chat_request(body)["messages"])
    return usage(max(1, len(prompt) // 4), max(1, len(text) // 4))


def gemini_config(server: GeminiServer, **settings: Any) -> Config:
    """A config for `server`: `api_type: gemini`, the test key, the priced `MODEL`."""
    values = {"api_type": "gemini", "gemini_api_key": API_KEY, "gemini_base_url": server.base_url}
    return Config(**{**values, "openai_api_model": MODEL, **settings})


def dollars(prompt_tokens: int, completion_tokens: int) -> float:
    """What a call of `MODEL` costs by the price table, computed independently of the cost manager."""
    price = TOKEN_PRICES[MODEL]
    return (prompt_tokens * price.prompt + completion_tokens * price.completion) / 1_000_000


class GeminiServer(LoopbackServer):
    """A loopback Gemini API endpoint that records every request.

    Args:
        handler: answers requests once the planned replies are used up; `realistic_reply` by default.
        api_key: the key `x-goog-api-key` must carry (403 without one, 400 for another, as Gemini).
        models: the models served (404 for others); None serves any.
    """

    reply_type = Reply

    def __init__(self, handler: Handler | None = None, api_key: str = API_KEY, models: Collection[str] | None = None):
        super().__init__(handler or realistic_reply)
        self.api_key = api_key
        self.models = models

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests]

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    @property
    def usages(self) -> list[dict[str, int]]:
        """The `usageMetadata` reported on each successful answer, in order."""
        return [r.usage for r in self.requests if r.status == 200 and r.usage is not None]

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        headers = {k.lower(): v for k, v in http.headers.items()}
        record = Recorded(method=http.command, path=http.path, headers=headers, body=body)
        with self._lock:
            self.requests.append(record)
        reply = self._check(http.command, http.path, headers.get("x-goog-api-key"))
        if reply is None:
            try:
                reply = self._next_reply(body)
            except Exception as exc:  # a broken test handler: fail loudly, without retries
                self.errors.append(repr(exc))
                reply = error(400, f"test server handler failed: {exc!r}")
        record.status = reply.status
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (time-out tests)
            self._send(http, body, reply, record)

    def _check(self, method: str, path: str, key: str | None) -> Reply | None:
        """The error Gemini answers a request with that it cannot serve, or None."""
        url = urlsplit(path)
        match = _PATH.match(url.path)
        if method != "POST" or match is None:
            return error(404, f"Unknown request: {method} {path}")
        if match.group(2) == "streamGenerateContent" and parse_qs(url.query).get("alt") != ["sse"]:
            return error(400, "This server streams only as server-sent events (alt=sse).")
        if not key:
            return error(403, "Method doesn't allow unregistered callers. Please use an API key to call this API.")
        if key != self.api_key:
            invalid = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            return error(400, "API key not valid. Please pass a valid API key.", details=[invalid])
        if self.models is not None and match.group(1) not in self.models:
            return error(404, f"models/{match.group(1)} is not found for API version v1beta.")
        return None

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            planned = self.planned.popleft() if self.planned else None
        if planned is None:
            return self.handler(body)
        return planned if isinstance(planned, Reply) else planned(body)

    def _send(self, http: BaseHTTPRequestHandler, body: dict[str, Any], reply: Reply, record: Recorded) -> None:
        if reply.raw is not None:
            reply.raw(http)
            return
        if reply.status != 200 or reply.text is None:
            _send_json(http, reply.status, reply.body, reply.headers)
            return
        text = apply_stop(reply.text, (body.get("generationConfig") or {}).get("stopSequences"))
        metadata = (reply.usage or estimate_usage(body, text)) if reply.report_usage else None
        record.text, record.usage = text, metadata
        model = _PATH.match(urlsplit(http.path).path).group(1)  # type: ignore[union-attr]
        if ":streamGenerateContent" in http.path:
            _send_stream(http, reply, text, metadata, model)
        else:
            _send_json(http, 200, _response([text], metadata, reply.finish_reason, model), reply.headers)


def _response(parts: list[str], metadata: dict[str, int] | None, finish: str | None, model: str) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": p} for p in parts], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    response: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "loopback"}
    if metadata is not None:
        response["usageMetadata"] = metadata
    return response


def _start(http: BaseHTTPRequestHandler, status: int, content_type: str, headers: dict[str, str]) -> None:
    """The status line and headers of an answer the server closes when done."""
    http.send_response(status)
    http.send_header("Content-Type", content_type)
    http.send_header("Connection", "close")
    for name, value in headers.items():
        http.send_header(name, value)
    http.end_headers()


def _send_json(http: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    _start(http, status, "application/json; charset=UTF-8", {"Content-Length": str(len(data)), **headers})
    http.wfile.write(data)


def _send_stream(
    http: BaseHTTPRequestHandler, reply: Reply, text: str, metadata: dict[str, int] | None, model: str
) -> None:
    """Server-sent events, one `GenerateContentResponse` each: every chunk carries the prompt's
    usage so far; the last carries the finish reason and the whole usage."""
    pieces = reply.chunks if reply.chunks is not None else stream_pieces(text)
    running = None if metadata is None else {"promptTokenCount": metadata.get("promptTokenCount")}
    events = [_response([piece], running, None, model) for piece in pieces]
    if reply.cut_after is not None:
        events = events[: reply.cut_after]
    elif events:
        events[-1] = _response([pieces[-1]], metadata, reply.finish_reason, model)
    else:
        events = [_response([""], metadata, reply.finish_reason, model)]
    _start(http, 200, "text/event-stream", reply.headers)
    for event in events:
        http.wfile.write(f"data: {json.dumps(event)}\r\n\r\n".encode())
        http.wfile.flush()
