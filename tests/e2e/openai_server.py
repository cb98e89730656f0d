"""A scriptable OpenAI-compatible chat-completions server on loopback, for end-to-end tests.

The real `openai` SDK talks to it over HTTP, so tests exercise the whole client path: request
encoding, streaming, status codes, headers and error bodies.

    with OpenAIServer() as server:                       # realistic answers by default
        server.plan(error(429, "slow down", headers=RETRY_NOW), answer("hello"))
        config = Config(openai_base_url=server.base_url, openai_api_key="sk-test")
        ...
        assert len(server.requests) == 2

Each request is answered by the next planned reply (a `Reply`, or a function of the request
body returning one), or by the server's handler once the plan is used up. The default handler,
`realistic_reply`, answers the company's prompts: a valid PRD, system design or task list for
document requests (chosen from `response_format.json_schema.name`, or from the prompt when no
schema is sent), and a ```python block for the Engineer's code requests.
"""

from __future__ import annotations

import contextlib
import json
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from pydantic import BaseModel

from metagpt.actions import PRD, SystemDesign, Tasks
from metagpt.provider.fake import sample_from_schema
from tests.loopback import LoopbackServer

RETRY_NOW = {"Retry-After": "0"}
"""Headers that make the client retry at once, keeping the suite fast."""

DOCUMENTS: dict[str, type[BaseModel]] = {model.__name__: model for model in (PRD, SystemDesign, Tasks)}
"""The SOP's document models by class name, which is also the `json_schema.name` sent."""

# The format instructions list the asked document's keys as `- "<key>" (<title>): ...`; a key
# unique to each document tells them apart even when an earlier document is quoted as context.
_DOCUMENT_MARKERS = {'- "product_goals" (': PRD, '- "python_package_name" (': SystemDesign, '- "task_list" (': Tasks}
_CODE_FILE = re.compile(r"write the complete code of `([^`]+)`")
_TEST_FILE = re.compile(r"write `tests/test_([^`]+)\.py`")


@dataclass
class Reply:
    """One planned HTTP answer.

    A reply with `text` becomes a chat completion, or an SSE stream when the request asked for
    `stream`; a reply with `body` sends that JSON as is (errors, malformed answers).
    """

    status: int = 200
    text: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] | None = None
    """Usage to report; None computes it from the request and the answer (about 4 chars a token)."""
    report_usage: bool = True
    """False leaves `usage` out, like endpoints that do not count tokens."""
    chunks: list[str] | None = None
    """Stream deltas (their join is the text); None splits `text` into words."""
    finish_reason: str = "stop"
    raw: Callable[[BaseHTTPRequestHandler], None] | None = None
    """Writes the whole HTTP answer itself: malformed bodies, trickles, connections cut short."""

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
    status: int = 0
    usage: dict[str, int] | None = None
    """The usage reported to the client, if any."""
    text: str | None = None
    """The answer text sent, after stop sequences were applied."""


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """A `usage` object as the API reports it."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def answer(text: str | None = None, **kwargs: Any) -> Reply:
    """A successful answer with `text`, or with `chunks=[...]` (streamed when the request streams)."""
    return Reply(text=text, **kwargs)


def error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`."""
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return Reply(status=status, body=body, headers=dict(headers or {}))


def estimate_usage(request: dict[str, Any], text: str) -> dict[str, int]:
    """Token counts as a simple server would report them: about four characters a token."""
    prompt = "".join(str(m.get("content") or "") for m in request.get("messages", []))
    prompt_tokens, completion_tokens = max(1, len(prompt) // 4), max(1, len(text) // 4)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def prompt_text(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content") or "") for m in request.get("messages", []))


def requested_document(request: dict[str, Any]) -> type[BaseModel] | None:
    """The document a request asks for: from `response_format`, else from the prompt."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return DOCUMENTS.get(response_format["json_schema"]["name"])
    text = prompt_text(request)
    for marker, model in _DOCUMENT_MARKERS.items():
        if marker in text:
            return model
    return None


def requested_code_file(request: dict[str, Any]) -> str | None:
    """The file name of an Engineer's code request, if it is one."""
    match = _CODE_FILE.search(prompt_text(request))
    return match.group(1) if match else None


def sample_document(model: type[BaseModel]) -> dict[str, Any]:
    """A valid instance of `model` as JSON data, built from its schema's examples."""
    schema = model.model_json_schema()
    data = sample_from_schema(schema, schema.get("$defs", {}))
    model.model_validate(data)
    return data


def test_answer(module: str) -> str:
    """QA's answer for the tests of `module`: one pytest test of the code `code_answer` writes."""
    return (
        f"```python\nfrom {module} import main\n\n\ndef test_main_prints_its_file_name(capsys):\n"
        f"    main()\n    assert {module!r} in capsys.readouterr().out\n```\n"
    )


def code_answer(filename: str) -> str:
    """The Engineer's answer for `filename`: one python block naming the file."""
    return (
        f'```python\n"""{filename}: written by the loopback test server."""\n\n\n'
        f"def main() -> None:\n    print({filename!r})\n```\n"
    )


def strict_schema_problem(request: dict[str, Any]) -> str | None:
    """What OpenAI's strict mode would reject in the request's json_schema, or None.

    Strict mode requires `additionalProperties: false` on every object and every property listed
    in `required`.
    """
    response_format = request.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return None
    spec = response_format["json_schema"]
    if not spec.get("strict"):
        return None
    problems: list[str] = []

    def visit(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                if node.get("additionalProperties") is not False:
                    problems.append(f"{where or 'root'}: 'additionalProperties' is required to be false")
                missing = set(node["properties"]) - set(node.get("required", []))
                if missing:
                    problems.append(
                        f"{where or 'root'}: 'required' must list all properties, missing {sorted(missing)}"
                    )
            for key, value in node.items():
                visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                visit(item, f"{where}/{index}")

    visit(spec.get("schema", {}), "")
    if problems:
        return f"Invalid schema for response_format '{spec.get('name')}': {problems[0]}"
    return None


def realistic_reply(request: dict[str, Any]) -> Reply:
    """Answer like a capable model: valid documents, code blocks, OpenAI's format checks."""
    problem = strict_schema_problem(request)
    if problem:
        return error(400, problem, param="response_format")
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_object" and "json" not in prompt_text(request).lower():
        return error(
            400,
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            param="messages",
        )
    document = requested_document(request)
    if document is not None:
        return answer(json.dumps(sample_document(document), ensure_ascii=False))
    schema = (response_format.get("json_schema") or {}).get("schema") or response_format.get("schema")
    if schema:  # any other structured answer (a review verdict, a plan): a valid sample of its schema
        return answer(json.dumps(sample_from_schema(schema, schema.get("$defs", {})), ensure_ascii=False))
    filename = requested_code_file(request)
    if filename is not None:
        return answer(code_answer(filename))
    test = _TEST_FILE.search(prompt_text(request))
    if test is not None:
        return answer(test_answer(test.group(1)))
    return answer("OK")


def apply_stop(text: str, stop: Any) -> str:
    """The text up to the first stop sequence, which (as on OpenAI) is not included."""
    sequences = [stop] if isinstance(stop, str) else list(stop or [])
    cut = min((text.find(s) for s in sequences if s and s in text), default=-1)
    return text if cut < 0 else text[:cut]


class OpenAIServer(LoopbackServer):
    """A loopback `/v1/chat/completions` endpoint that records every request.

    Args:
        handler: answers requests once the planned replies are used up; `realistic_reply`
            by default.
    """

    reply_type = Reply

    def __init__(self, handler: Handler | None = None, tls: ssl.SSLContext | None = None):
        super().__init__(handler or realistic_reply, tls)
        self.chat_path = "/v1/chat/completions"
        """Where chat completions are served (Azure routes by deployment instead)."""

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://127.0.0.1:{self.port}/v1"

    # -- scripting and inspection -------------------------------------------------------------

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of every request received, in order."""
        return [r.body for r in self.requests]

    @property
    def usages(self) -> list[dict[str, int]]:
        """The usage reported on each successful answer, in order."""
        return [r.usage for r in self.requests if r.status == 200 and r.usage is not None]

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        record = Recorded(
            method=http.command,
            path=http.path,
            headers={k.lower(): v for k, v in http.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(record)
        if http.command != "POST" or http.path.split("?")[0].rstrip("/") != self.chat_path:
            reply = error(404, f"Unknown request: {http.command} {http.path}", code="unknown_url")
        else:
            try:
                reply = self._next_reply(body)
            except Exception as exc:  # a broken test handler: fail loudly, without retries
                self.errors.append(repr(exc))
                reply = error(418, f"test server handler failed: {exc!r}")
        record.status = reply.status
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (time-out tests)
            self._send(http, body, reply, record)

    def _send(self, http: BaseHTTPRequestHandler, body: dict[str, Any], reply: Reply, record: Recorded) -> None:
        if reply.raw is not None:
            reply.raw(http)
            return
        if reply.status != 200 or reply.text is None:
            _send_json(http, reply.status, reply.body, reply.headers)
            return
        text = apply_stop(reply.text, body.get("stop"))
        usage = (reply.usage or estimate_usage(body, text)) if reply.report_usage else None
        record.text, record.usage = text, usage
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            _send_stream(http, reply, body, text, usage if include_usage else None)
        else:
            _send_json(http, 200, _completion(body, text, usage, reply.finish_reason), reply.headers)


def _completion(request: dict[str, Any], text: str, usage: dict[str, int] | None, finish: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "unknown"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish, "logprobs": None}
        ],
        "usage": usage,
    }


def _chunk(request: dict[str, Any], choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.get("model", "unknown"),
        "choices": choices,
        **extra,
    }


def stream_pieces(text: str) -> list[str]:
    """`text` split into word-sized deltas that join back to it exactly."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


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
    http: BaseHTTPRequestHandler, reply: Reply, request: dict[str, Any], text: str, usage: dict[str, int] | None
) -> None:
    """Server-sent events: content deltas, a finish chunk, the usage chunk if asked, [DONE]."""
    pieces = reply.chunks if reply.chunks is not None else stream_pieces(text)
    # With include_usage every chunk carries `usage: null` and a last chunk carries the usage.
    extra = {"usage": None} if usage is not None else {}
    events = [
        _chunk(request, [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}], **extra)
    ]
    events += [
        _chunk(request, [{"index": 0, "delta": {"content": piece}, "finish_reason": None}], **extra) for piece in pieces
    ]
    events.append(_chunk(request, [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}], **extra))
    if usage is not None:
        events.append(_chunk(request, [], usage=usage))
    http.send_response(200)
    http.send_header("Content-Type", "text/event-stream")
    http.send_header("Cache-Control", "no-cache")
    http.send_header("Connection", "close")
    for name, value in reply.headers.items():
        http.send_header(name, value)
    http.end_headers()
    for event in events:
        http.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        http.wfile.flush()
    http.wfile.write(b"data: [DONE]\n\n")
    http.wfile.flush()
