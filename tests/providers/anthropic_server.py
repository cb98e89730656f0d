"""A scriptable loopback server speaking Anthropic's Messages API, for provider tests.

The real `anthropic` SDK talks to it over HTTP: `POST /v1/messages`, answered as one JSON
message or as server-sent events (message_start, content_block_start/delta/stop, message_delta,
message_stop), errors as `{"type": "error", "error": {"type", "message"}}`. Nothing else is
served: any other path is a 404 `not_found_error`.

    with AnthropicServer() as server:                    # realistic answers by default
        server.plan(error(529, "Overloaded", type="overloaded_error"), answer("hello"))
        ...

Every request is first checked as the API checks it (`protocol_problem`): the headers, roles
that alternate and start with the user, no system role in `messages`, `max_tokens`, the
temperature's range, a forced tool that exists. A violation is answered with the API's 400.
Then the next planned reply answers it, or the handler once the plan is used up.
`realistic_reply` answers a whole company run: it reads the request in the OpenAI shape
(`as_openai`) and reuses the OpenAI server's realistic answers.

A system block marked `cache_control` and long enough is cached: the first request writes it
(`cache_creation_input_tokens`), the next with the same tools and system reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from metagpt.config import Config
from metagpt.cost_manager import TOKEN_PRICES
from tests.e2e import openai_server
from tests.e2e.openai_server import OpenAIServer, Recorded, apply_stop, stream_pieces

MODEL = "claude-sonnet-4-5"
API_KEY = "sk-ant-test-0123456789abcdef"
RETRY_NOW = {"retry-after": "0"}
"""Headers that make the client retry at once, keeping the suite fast."""


@dataclass
class Reply:
    """One planned HTTP answer.

    A reply with `text` becomes a message (a tool call when the request forces a tool), or an
    event stream when the request asked for `stream`; a reply with `body` sends that JSON as is.
    """

    status: int = 200
    text: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    """Usage to report; None computes it from the request (about 4 characters a token)."""
    report_usage: bool = True
    chunks: list[str] | None = None
    """Stream deltas (their join is the text); None splits the text into words."""
    stop_reason: str = "end_turn"
    stream_error: dict[str, Any] | None = None
    """An `error` event's error (`{"type", "message"}`) sent after the deltas, instead of the end."""
    cut_after: int | None = None
    """Send this many deltas, then end the stream without message_delta and message_stop."""
    raw: Callable[[BaseHTTPRequestHandler], None] | None = None
    """Writes the whole HTTP answer itself: malformed bodies, connections cut short."""

    def __post_init__(self) -> None:
        if self.text is None and self.chunks is not None:
            self.text = "".join(self.chunks)


Handler = Callable[[dict[str, Any]], Reply]


def usage(input_tokens: int, output_tokens: int, cache_write: int = 0, cache_read: int = 0) -> dict[str, Any]:
    """A `usage` object as the API reports it (input_tokens exclude the cached ones)."""
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
    }


def answer(text: str | None = None, **kwargs: Any) -> Reply:
    """A successful answer with `text`, or with `chunks=[...]` (streamed when the request streams)."""
    return Reply(text=text, **kwargs)


def error(status: int, message: str, *, type: str = "invalid_request_error", headers: dict[str, str] | None = None):
    """An error in Anthropic's shape."""
    body = {"type": "error", "error": {"type": type, "message": message}, "request_id": "req_loopback"}
    return Reply(status=status, body=body, headers=dict(headers or {}))


def anthropic_config(base_url: str, **settings: Any) -> Config:
    """A config for the server at `base_url`, with the test key and a priced model."""
    base = {"api_type": "anthropic", "anthropic_base_url": base_url, "anthropic_api_key": API_KEY}
    return Config(**{**base, "openai_api_model": MODEL, **settings})


def dollars(reported: dict[str, int], model: str = MODEL) -> float:
    """The cost of one reported usage from the price table, cache reads and writes at their own prices."""
    price = TOKEN_PRICES[model]
    prompt = reported["input_tokens"] * price.prompt + reported["cache_read_input_tokens"] * price.cache_read
    prompt += reported["cache_creation_input_tokens"] * price.cache_write
    return (prompt + reported["output_tokens"] * price.completion) / 1_000_000


def block_text(content: Any) -> str:
    """The text of a message's or the system's content: a string or a list of text blocks."""
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text")


def forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool the request forces the model to call, if any."""
    choice = body.get("tool_choice") or {}
    if choice.get("type") != "tool":
        return None
    return next((t for t in body.get("tools") or [] if t.get("name") == choice.get("name")), None)


def as_openai(body: dict[str, Any]) -> dict[str, Any]:
    """The request as a chat completion request: the system first, a forced tool as a json_schema."""
    system = block_text(body.get("system"))
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": m.get("role"), "content": block_text(m.get("content"))} for m in body.get("messages", [])]
    request: dict[str, Any] = {"model": body.get("model"), "messages": messages, "stop": body.get("stop_sequences")}
    tool = forced_tool(body)
    if tool is not None:
        spec = {"name": tool["name"], "schema": tool.get("input_schema", {})}
        request["response_format"] = {"type": "json_schema", "json_schema": spec}
    return request


def realistic_reply(body: dict[str, Any]) -> Reply:
    """Answer a company's requests as the OpenAI server's `realistic_reply` does."""
    reply = openai_server.realistic_reply(as_openai(body))
    if reply.status != 200:
        return error(reply.status, str((reply.body or {}).get("error", {}).get("message")))
    return answer(reply.text)


def api_key(headers: dict[str, str]) -> str | None:
    """The key a request carries: `x-api-key`, or a bearer token (what SDK 2.x sends)."""
    bearer = headers.get("authorization", "")
    return headers.get("x-api-key") or (bearer.removeprefix("Bearer ") if bearer.startswith("Bearer ") else None)


def protocol_problem(body: dict[str, Any], headers: dict[str, str]) -> Reply | None:
    """The API's error for a request it would refuse, or None."""
    if not api_key(headers):
        return error(401, "x-api-key header is required", type="authentication_error")
    if not headers.get("anthropic-version"):
        return error(400, "anthropic-version header is required")
    problems = []
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        problems.append("max_tokens: Field required")
    temperature = body.get("temperature", 1.0)
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 1:
        problems.append("temperature: Input should be less than or equal to 1")
    messages = body.get("messages") or []
    roles = [m.get("role") for m in messages]
    if not messages:
        problems.append("messages: at least one message is required")
    elif "system" in roles:
        problems.append('messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter')
    elif roles[0] != "user":
        problems.append("messages: first message must use the user role")
    elif any(a == b for a, b in itertools.pairwise(roles)):
        problems.append("messages: roles must alternate between user and assistant")
    if any(not block_text(m.get("content")).strip() for m in messages):
        problems.append("messages: text content blocks must be non-empty")
    if (
        messages
        and roles[-1] == "assistant"
        and block_text(messages[-1].get("content")) != block_text(messages[-1].get("content")).rstrip()
    ):
        problems.append("final assistant content cannot end with trailing whitespace")
    if any(not str(s).strip() for s in body.get("stop_sequences") or []):
        problems.append("stop_sequences: each stop sequence must contain non-whitespace")
    if body.get("tool_choice") and forced_tool(body) is None:
        problems.append("tool_choice: the tool named does not exist")
    for tool in body.get("tools") or []:
        if (tool.get("input_schema") or {}).get("type") != "object":
            problems.append(f"tools.{tool.get('name')}.input_schema.type: Input should be 'object'")
    return error(400, problems[0]) if problems else None


def tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def cache_minimum(model: str) -> int:
    return 2048 if "haiku" in model.lower() else 1024


class AnthropicServer(OpenAIServer):
    """A loopback `/v1/messages` endpoint that records every request (path, headers, body)."""

    reply_type = Reply

    def __init__(self, handler: Handler | None = None):
        super().__init__(handler or realistic_reply)
        self.chat_path = "/v1/messages"
        self.cached: set[str] = set()
        """Digests of the prompt prefixes written to the cache."""

    @property
    def base_url(self) -> str:
        """What ANTHROPIC_BASE_URL is set to: the SDK adds `/v1/messages`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def estimate_usage(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        """Usage as the API reports it, about four characters a token, with the cache applied.

        The cached prefix is the tools and the system, when the system's last block is marked
        `cache_control` and the prefix reaches the model's minimum.
        """
        system = body.get("system")
        prefix = json.dumps(body.get("tools") or []) + block_text(system)
        rest = "".join(block_text(m.get("content")) for m in body.get("messages", []))
        marked = isinstance(system, list) and bool(system) and "cache_control" in system[-1]
        written = read = 0
        if marked and tokens(prefix) >= cache_minimum(str(body.get("model"))):
            digest = hashlib.sha256(f"{body.get('model')}\n{prefix}".encode()).hexdigest()
            with self._lock:
                if digest in self.cached:
                    read = tokens(prefix)
                else:
                    written = tokens(prefix)
                    self.cached.add(digest)
        uncached = tokens(rest) if written or read else tokens(prefix) + tokens(rest)
        return usage(max(1, uncached), max(1, tokens(text)), written, read)

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
        if http.command != "POST" or http.path.split("?")[0] != self.chat_path:
            reply = error(404, f"Not found: {http.command} {http.path}", type="not_found_error")
        else:
            reply = protocol_problem(body, headers)
            if reply is not None:
                self.errors.append(f"the client sent a request the API refuses: {reply.body['error']['message']}")
            else:
                try:
                    reply = self._next_reply(body)
                except Exception as exc:  # a broken test handler: fail loudly, without retries
                    self.errors.append(repr(exc))
                    reply = error(418, f"test server handler failed: {exc!r}")
        record.status = reply.status
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            self._send(http, body, reply, record)

    def _send(self, http: BaseHTTPRequestHandler, body: dict[str, Any], reply: Reply, record: Recorded) -> None:
        if reply.raw is not None:
            reply.raw(http)
            return
        if reply.status != 200 or reply.text is None:
            _send_json(http, reply.status, reply.body, reply.headers)
            return
        text, stop_reason, stop_sequence = reply.text, reply.stop_reason, None
        cut = apply_stop(text, body.get("stop_sequences"))
        if cut != text:
            stop_sequence = next(s for s in body["stop_sequences"] if text[len(cut) :].startswith(s))
            text, stop_reason = cut, "stop_sequence"
        reported = (reply.usage or self.estimate_usage(body, text)) if reply.report_usage else None
        record.text, record.usage = text, reported
        tool = forced_tool(body)
        if tool is not None and stop_reason == "end_turn":
            stop_reason = "tool_use"
        message = {
            "id": "msg_loopback",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": reported,
        }
        if not body.get("stream"):
            if tool is not None:
                block = {"type": "tool_use", "id": "toolu_loopback", "name": tool["name"], "input": json.loads(text)}
            else:
                block = {"type": "text", "text": text}
            message.update(content=[block], stop_reason=stop_reason, stop_sequence=stop_sequence)
            _send_json(http, 200, message, reply.headers)
            return
        _send_stream(http, reply, message, text, tool, stop_reason, stop_sequence)


def _send_json(http: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    http.send_response(status)
    http.send_header("Content-Type", "application/json")
    http.send_header("Content-Length", str(len(data)))
    http.send_header("Connection", "close")
    for name, value in headers.items():
        http.send_header(name, value)
    http.end_headers()
    http.wfile.write(data)


def _send_stream(
    http: BaseHTTPRequestHandler,
    reply: Reply,
    message: dict[str, Any],
    text: str,
    tool: dict[str, Any] | None,
    stop_reason: str,
    stop_sequence: str | None,
) -> None:
    """The event stream: the message's start (with the prompt's usage), one content block, its end."""
    reported = message["usage"]
    if reported is not None:  # message_start carries the prompt; message_delta the output so far
        message = {**message, "usage": {**reported, "output_tokens": 1}}
    pieces = reply.chunks if reply.chunks is not None else stream_pieces(text)
    if tool is not None:
        start_block = {"type": "tool_use", "id": "toolu_loopback", "name": tool["name"], "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
    else:
        start_block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in pieces]
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": message}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start_block}),
        ("ping", {"type": "ping"}),
    ]
    events += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d}) for d in deltas]
    if reply.cut_after is not None:
        events = events[: 3 + reply.cut_after]
    elif reply.stream_error is not None:
        events.append(("error", {"type": "error", "error": reply.stream_error}))
    else:
        delta_usage = {"output_tokens": reported["output_tokens"]} if reported is not None else None
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                    "usage": delta_usage,
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
    http.send_response(200)
    http.send_header("Content-Type", "text/event-stream")
    http.send_header("Cache-Control", "no-cache")
    http.send_header("Connection", "close")
    for name, value in reply.headers.items():
        http.send_header(name, value)
    http.end_headers()
    for name, data in events:
        http.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        http.wfile.flush()


def raw_reply(data: bytes, content_type: str = "application/json", length: int | None = None) -> Reply:
    """A 200 answer whose body is exactly `data`; `length` announces more bytes than are sent."""

    def send(http: BaseHTTPRequestHandler) -> None:
        http.send_response(200)
        http.send_header("Content-Type", content_type)
        http.send_header("Content-Length", str(length if length is not None else len(data)))
        http.send_header("Connection", "close")
        http.end_headers()
        http.wfile.write(data)
        http.wfile.flush()

    return Reply(raw=send)


def malformed_json() -> Reply:
    """A message cut off in the middle of its JSON, with a Content-Length that matches."""
    return raw_reply(b'{"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "te')


def malformed_event() -> Reply:
    """A stream whose first event's data is not JSON."""
    broken = b'event: message_start\ndata: {"type": "message_start", "message": {"id": \n\n'
    return raw_reply(broken, "text/event-stream")
