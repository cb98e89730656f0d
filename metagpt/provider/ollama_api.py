"""Ollama's own chat API (`API_TYPE: ollama`): `POST /api/chat` over plain httpx, no SDK.

`OLLAMA_HOST` says where the server is (`127.0.0.1:11434` by default). A streamed answer is
NDJSON, one `{"message": {"content": ...}, "done": false}` object a line and a last line with
`done: true`, the finish reason and the token counts; an answer that is not streamed is that
last object with the whole message. Structured answers send the action's JSON schema as
`format` (Ollama 0.5 and later), which the server turns into a grammar; a server too old for it
gets `format: "json"`, and the schema stays in the prompt either way.

Ollama runs a model with its own context length (`num_ctx`), often far below what the model was
trained for. `CONTEXT_WINDOW` is sent as `num_ctx`, so prompts are trimmed to the window the
model really runs with; without it the window is the model's trained one, as `POST /api/show`
reports it.

Calls cost $0: the model runs on the user's own machines, wherever `OLLAMA_HOST` points, unless
`MODEL_PRICES` prices it (a paid gateway). `TIMEOUT` bounds each request as a whole, connecting
and reading the whole answer, as in `metagpt.provider.openai_api`.
"""

from __future__ import annotations

import email.utils
import json
import re
import shlex
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from loguru import logger

from metagpt.configs.catalogue import OLLAMA_URL, endpoint
from metagpt.exceptions import (
    AuthenticationError,
    ConfigError,
    ForbiddenInTests,
    ProviderError,
    ResponseFormatUnsupported,
)
from metagpt.provider import check_allowed
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, StreamChunk, Usage
from metagpt.provider.calls import before, brief, deadline_after
from metagpt.provider.openai_api import tls_context
from metagpt.provider.usage import checked_usage
from metagpt.utils.structured import strict_json_schema

try:  # the openai SDK's HTTP client: httpx, or httpx2 (its successor, the same API) from openai 3 on
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the installed openai
    try:
        import httpx  # type: ignore[no-redef]  # the same API under its older name
    except ImportError as exc:
        raise ConfigError(
            "API_TYPE ollama needs httpx, which the openai SDK installs: pip install httpx (Ollama needs no SDK "
            "of its own)."
        ) from exc

T = TypeVar("T")

CHAT_PATH = "/api/chat"
SHOW_PATH = "/api/show"
SHOW_TIMEOUT = 10.0
"""Most seconds the one `/api/show` question may take (it blocks the first call's preparation)."""

_QUOTA = re.compile(r"quota|credits?\b|billing|subscription", re.IGNORECASE)
_CONTEXT = re.compile(r"context (length|window|size)|too long|exceeds? the (context|maximum)", re.IGNORECASE)
_FORMAT = re.compile(r"\bformat\b|json schema", re.IGNORECASE)
_NO_MEMORY = re.compile(r"requires more system memory", re.IGNORECASE)
_UNKNOWN = object()


class OllamaProvider(Provider):
    """Chat on an Ollama server through its native API."""

    def __init__(self, config: Any):
        where = endpoint(config)
        self.api_type = where.api_type
        self.model = where.model
        self.base_url = where.base_url or OLLAMA_URL
        self.key_name, self.url_name = where.key_name, where.url_name
        self.timeout: float = config.timeout
        self.num_ctx: int | None = config.context_window
        """`CONTEXT_WINDOW`, sent as `num_ctx`: the window the server runs the model with."""
        self._window: Any = config.context_window or _UNKNOWN
        self.priced = self.model in config.model_prices
        self.json_only = False
        """True once the server rejected a JSON schema as `format`: `format: "json"` from then on."""
        headers = {"Authorization": f"Bearer {where.api_key}"} if where.api_key else None
        self.client = httpx.AsyncClient(
            base_url=self.base_url, timeout=config.timeout, verify=tls_context(), headers=headers
        )

    @classmethod
    def from_config(cls, config: Any) -> OllamaProvider:
        return cls(config)

    @property
    def context_window(self) -> int | None:  # type: ignore[override]
        """`CONTEXT_WINDOW`, else the model's context length as the server reports it, asked once."""
        if self._window is _UNKNOWN:
            try:
                check_allowed("ollama")
            except ForbiddenInTests:
                return None
            self._window = self._reported_window()
        return self._window

    async def complete(self, request: ModelRequest) -> ModelResponse:
        check_allowed("ollama")
        deadline = deadline_after(self.timeout)
        response = await self._open(request, stream=False, deadline=deadline)
        try:
            raw = await self._before(deadline, response.aread())
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        finally:
            await response.aclose()
        data = self._decode(raw)
        self._raise_if_error(data)
        text = self._content(data)
        return ModelResponse(
            text=text, usage=self._usage(data, request, text), model=self.model, finish_reason=data.get("done_reason")
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        check_allowed("ollama")
        deadline = deadline_after(self.timeout)
        response = await self._open(request, stream=True, deadline=deadline)
        parts: list[str] = []
        final: dict[str, Any] | None = None
        lines = aiter(response.aiter_lines())
        try:
            while final is None:
                try:
                    line = await self._before(deadline, anext(lines))
                except StopAsyncIteration:
                    break
                if not line.strip():
                    continue
                event = self._decode(line)
                self._raise_if_error(event)
                delta = self._content(event)
                if delta:
                    parts.append(delta)
                    yield StreamChunk(delta=delta)
                if event.get("done"):
                    final = event
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        finally:
            await response.aclose()
        if final is None:
            raise ProviderError(
                f"{self._where}: the answer stopped before its last line (done: true); the connection was cut.",
                retryable=True,
                billable=True,
            )
        text = "".join(parts)
        usage = self._usage(final, request, text)
        yield StreamChunk(
            response=ModelResponse(text=text, usage=usage, model=self.model, finish_reason=final.get("done_reason"))
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- the request ----------------------------------------------------------------------------

    def body(self, request: ModelRequest, stream: bool) -> dict[str, Any]:
        """The JSON `POST /api/chat` is sent for `request`."""
        options: dict[str, Any] = {"num_predict": request.max_tokens, "temperature": request.temperature}
        if request.stop:
            options["stop"] = list(request.stop)
        if self.num_ctx:
            options["num_ctx"] = self.num_ctx
        body: dict[str, Any] = {"model": self.model, "messages": request.messages, "stream": stream}
        if request.output_schema is not None:
            body["format"] = "json" if self.json_only else strict_json_schema(request.output_schema.json_schema)
        body["options"] = options
        return body

    async def _open(self, request: ModelRequest, stream: bool, deadline: float) -> Any:
        """Send `request` and return the answer with status 200, its body not yet read."""
        while True:
            sent = self.client.build_request("POST", CHAT_PATH, json=self.body(request, stream))
            try:
                response = await self._before(deadline, self.client.send(sent, stream=True))
            except httpx.HTTPError as exc:
                raise self._transport_error(exc) from exc
            if response.status_code == 200:
                return response
            try:
                raw = await self._before(deadline, response.aread())
            except httpx.HTTPError:
                raw = b""
            finally:
                await response.aclose()
            schema_sent = request.output_schema is not None and not self.json_only
            error = self._status_error(response.status_code, raw, response.headers, schema_sent)
            if isinstance(error, ResponseFormatUnsupported):
                logger.warning(f"{self._where} takes no JSON schema as format; asking for plain JSON from now on.")
                self.json_only = True
                continue
            raise error

    async def _before(self, deadline: float, step: Awaitable[T]) -> T:
        return await before(deadline, step, self._where, self.timeout, " (a model's first call also loads it)")

    # -- the answer -----------------------------------------------------------------------------

    def _decode(self, raw: bytes | str) -> dict[str, Any]:
        """One JSON object of the answer, or a retryable (billable) error when it is not one."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise ProviderError(
                f"{self._where} sent an answer that is not Ollama's JSON ({brief(raw)}); check that "
                f"{self.url_name} is an Ollama server.",
                retryable=True,
                billable=True,
            )
        return data

    def _content(self, data: dict[str, Any]) -> str:
        """The answer's text (a thinking model's `thinking` is not part of it)."""
        message = data.get("message")
        if message is None and data.get("done") and "eval_count" in data:
            return ""  # a stream's last line, which some versions send without a message
        content = message.get("content", "") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise ProviderError(
                f"{self._where} sent an answer without a message ({brief(json.dumps(data))}); check that "
                f"{self.url_name} is an Ollama server.",
                retryable=True,
                billable=True,
            )
        return content

    def _raise_if_error(self, data: dict[str, Any]) -> None:
        """An `{"error": ...}` object where an answer was due: the model failed while answering."""
        if "error" in data:
            raise ProviderError(
                f"{self._where} failed while answering: {brief(data['error'], 500)}.", retryable=True, billable=True
            )

    def _usage(self, final: dict[str, Any], request: ModelRequest, text: str) -> Usage:
        prompt, completion = final.get("prompt_eval_count"), final.get("eval_count")
        cached = final.get("prompt_eval_cached_count") or 0  # newer servers: the part read from the KV cache
        if prompt is None and completion is not None:
            # Ollama leaves `prompt_eval_count` out when the whole prompt came from its cache
            # (ollama#2068). The model still read that prompt: charge our own count, not 0.
            prompt = self.count_tokens(request.messages)
        return checked_usage(self, request, text, prompt, completion, self._where, cache_read=cached)

    def _reported_window(self) -> int | None:
        """The model's context length from `POST /api/show` (`model_info["<arch>.context_length"]`)."""
        try:
            with httpx.Client(
                base_url=self.base_url, timeout=min(self.timeout, SHOW_TIMEOUT), verify=tls_context()
            ) as client:
                response = client.post(SHOW_PATH, json={"model": self.model})
            info = response.json().get("model_info") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            logger.debug(f"{self._where}: no context length from {SHOW_PATH} ({exc!r})")
            return None
        if not isinstance(info, dict):
            return None
        keys = [f"{info.get('general.architecture')}.context_length"]
        keys += [key for key in info if isinstance(key, str) and key.endswith(".context_length")]
        found = next((info[key] for key in keys if key in info), None)
        return found if isinstance(found, int) and not isinstance(found, bool) and found > 0 else None

    # -- errors ---------------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{_shown(self.base_url)} ({self.model})"

    def _transport_error(self, exc: Exception) -> ProviderError:
        reason = brief(str(exc) or type(exc).__name__)
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return ProviderError(
                f"Cannot reach {_shown(self.base_url)}: is `ollama serve` running? Check {self.url_name} ({reason}).",
                retryable=True,
            )
        if isinstance(exc, httpx.WriteError | httpx.WriteTimeout):  # the request was not sent whole
            return ProviderError(f"{self._where}: sending the request failed ({reason}).", retryable=True)
        if isinstance(exc, httpx.TimeoutException):
            return ProviderError(
                f"{self._where} timed out; raise TIMEOUT if the model is slow.", retryable=True, billable=True
            )
        return ProviderError(
            f"{self._where}: the connection closed before the answer was complete ({reason}).",
            retryable=True,
            billable=True,
        )

    def _status_error(
        self, status: int, raw: bytes, headers: Mapping[str, str], schema_sent: bool = False
    ) -> ProviderError | ConfigError:
        """Our error for an answer with an error status, with a message that says what to do.

        `ResponseFormatUnsupported` only for a request that sent a JSON schema as `format`.
        """
        where, detail = self._where, _error_detail(raw)
        if status in (401, 403):
            check = f"Check {self.key_name}" if self.key_name else f"Ollama asks for no key: check {self.url_name}"
            return AuthenticationError(f"{where} refused the request ({status}: {detail}). {check}.")
        if status == 404 and "model" in detail.lower():
            return ConfigError(
                f"{where}: {detail}. Run `ollama pull {shlex.quote(self.model)}`, or set OPENAI_API_MODEL to a "
                "model `ollama list` shows."
            )
        if status == 404:
            return ConfigError(
                f"{where}: no Ollama API at {_shown(self.base_url)}{CHAT_PATH} ({detail}). Check {self.url_name}: "
                "it is the server's address (127.0.0.1:11434), without /v1."
            )
        retry_after = _retry_after(headers)
        if status == 429 and _QUOTA.search(detail):
            return ProviderError(f"{where}: the account has no quota left ({detail}). Check your plan.", status=status)
        if status == 429:
            return ProviderError(
                f"{where} is rate limiting ({detail}).", retryable=True, retry_after=retry_after, status=status
            )
        if status in (400, 413, 500) and _CONTEXT.search(detail):
            return ProviderError(
                f"{where}: the prompt does not fit the model's context window ({detail}). Set CONTEXT_WINDOW to the "
                "window the model runs with, so prompts are trimmed to fit it.",
                status=status,
            )
        if schema_sent and status in (400, 422) and _FORMAT.search(detail):
            return ResponseFormatUnsupported(f"{where} rejected the format ({status}: {detail}).", status=status)
        if _NO_MEMORY.search(detail):
            return ProviderError(
                f"{where} cannot load the model ({detail}). Pick a smaller one with OPENAI_API_MODEL.", status=status
            )
        if status in (408, 409) or status >= 500:
            return ProviderError(
                f"{where} failed ({status}: {detail}).", retryable=True, retry_after=retry_after, status=status
            )
        return ProviderError(f"{where} rejected the request ({status}: {detail}).", status=status)


def _shown(url: str) -> str:
    """`url` without a user name or password, for messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _error_detail(raw: bytes) -> str:
    """The message of an error answer: its `error` field, else its text (a proxy's page)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and data.get("error"):
        error = data["error"]
        return brief(error.get("message", error) if isinstance(error, dict) else error, 500)
    return brief(raw, 500) or "no details"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date) or `retry-after-ms`."""
    milliseconds = headers.get("retry-after-ms")
    value = headers.get("retry-after")
    try:
        if milliseconds:
            return max(0.0, float(milliseconds) / 1000)
        if value:
            return max(0.0, float(value))
    except ValueError:
        pass
    if not value:
        return None
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
