"""Claude through Anthropic's Messages API (`POST /v1/messages`) and the official `anthropic` SDK.

The wire shape (`anthropic_wire`) differs from chat completions: system messages go in
`system`, the conversation alternates user and assistant turns and starts with a user turn, and
`max_tokens` is always sent. A structured answer is a forced call of one tool named after the
schema, whose `input_schema` is the action's JSON schema; the tool call's `input` is the answer.
A system prompt long enough to be cached is marked `cache_control: ephemeral`, so the roles'
long shared prefix is billed at the cache-read price from its second use on; the usage's cache
reads and writes are part of the prompt, priced at their own rates.

As with the OpenAI provider, `TIMEOUT` bounds each request as a whole (connecting, waiting and
reading the whole answer, streamed or not), the SDK never retries (`metagpt.llm.LLM` does), and
every usage passes `checked_usage`. The API version the installed SDK speaks decides whether a
temperature is sent: the SDK's `messages.create` takes one up to API version 2023-06-01, and none
from 2026-10-21 on, where the model samples as it chooses.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import AsyncIterator, Awaitable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from metagpt.configs.prices import lookup_price
from metagpt.exceptions import AuthenticationError, ConfigError, ProviderError
from metagpt.provider import check_allowed
from metagpt.provider.anthropic_wire import answer_text, finish_reason, normalized_json, stream_piece, wire_request
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, StreamChunk, Usage
from metagpt.provider.calls import before, brief, deadline_after, retry_after
from metagpt.provider.openai_api import is_loopback, tls_context
from metagpt.provider.usage import checked_usage
from metagpt.utils.paths import clean_text

if TYPE_CHECKING:
    from metagpt.configs.settings import Config

T = TypeVar("T")

DEFAULT_CONTEXT_WINDOW = 200_000
_NO_KEY = "sk-ant-no-key-required"  # for a local proxy that needs none; the SDK must not look for one
_CONTEXT_WORDS = re.compile(r"prompt is too long|context (limit|window|length)|too many tokens", re.IGNORECASE)
_NOT_RETRYABLE = {"invalid_request_error", "authentication_error", "permission_error", "not_found_error"}
_BROKEN_ANSWER = {"RemoteProtocolError", "ReadError", "IncompleteRead", "ProtocolError", "DecodingError"}


def _sdk() -> ModuleType:
    try:
        import anthropic
    except ImportError:
        raise ConfigError('API_TYPE anthropic needs the anthropic SDK: pip install -e ".[anthropic]"') from None
    return anthropic


class AnthropicProvider(Provider):
    """Claude's Messages API, streamed or not, with structured answers as a forced tool call."""

    schema_overhead_tokens = 350
    """The tool-use system prompt Anthropic adds to a request with a forced tool (313-346 tokens as
    its documentation lists them for current models), and the tool's name and description."""

    def __init__(self, config: Config):
        from metagpt.configs.catalogue import ANTHROPIC_URL, endpoint

        where = endpoint(config)
        self.sdk = _sdk()
        self.api_type = where.api_type
        self.model = where.model
        self.base_url = where.base_url or ANTHROPIC_URL
        self.key_name, self.url_name = where.key_name or "ANTHROPIC_API_KEY", where.url_name
        self._key = where.api_key
        self.timeout = config.timeout
        self.context_window = config.context_window or DEFAULT_CONTEXT_WINDOW
        # A server on this machine costs nothing, unless it serves a priced model (a local proxy).
        self.priced = not is_loopback(self.base_url) or lookup_price(self.model, config.model_prices) is not None
        self.client = self.sdk.AsyncAnthropic(
            api_key=where.api_key or _NO_KEY,
            base_url=self.base_url,
            timeout=config.timeout,
            max_retries=0,
            http_client=self.sdk.DefaultAsyncHttpxClient(verify=tls_context()),
        )
        self.sends_temperature = "temperature" in inspect.signature(self.client.messages.create).parameters
        """Whether the SDK's API version still takes a sampling temperature (2026-10-21 does not)."""

    @classmethod
    def from_config(cls, config: Config) -> AnthropicProvider:
        return cls(config)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        check_allowed("anthropic")
        deadline = deadline_after(self.timeout)
        message = await self._before(deadline, self._create(request, stream=False))
        blocks = getattr(message, "content", None)
        if not isinstance(blocks, list):
            raise self._not_a_message(f"{type(message).__name__} {brief(message)}")
        text = answer_text(request, blocks)
        usage = self._checked_usage(getattr(message, "usage", None), None, request, text)
        finish = finish_reason(getattr(message, "stop_reason", None))
        return ModelResponse(text=text, usage=usage, model=self.model, finish_reason=finish)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        check_allowed("anthropic")
        deadline = deadline_after(self.timeout)
        stream = await self._before(deadline, self._create(request, stream=True))
        parts: dict[str, list[str]] = {"text": [], "tool_use": []}  # by the kind of block they belong to
        started: Any = None  # the usage of message_start: the prompt's counts
        final: Any = None  # the usage of message_delta: the answer's (cumulative) counts
        stop_reason, stopped, received = None, False, 0
        events = aiter(stream)
        try:
            while True:
                try:
                    event = await self._before(deadline, anext(events))
                except StopAsyncIteration:
                    break
                received += 1
                kind = getattr(event, "type", None)
                if kind == "message_start":
                    started = getattr(event.message, "usage", None)
                elif kind in ("content_block_start", "content_block_delta"):
                    block, piece = stream_piece(event)
                    if piece:
                        parts[block].append(piece)
                        yield StreamChunk(delta=piece)
                elif kind == "message_delta":
                    final = getattr(event, "usage", None) or final
                    stop_reason = getattr(event.delta, "stop_reason", None) or stop_reason
                elif kind == "message_stop":
                    stopped = True
        except Exception as exc:
            if not _answer_failure(self.sdk, exc):
                raise
            raise self._error(exc) from exc
        finally:
            await _close(stream)
        if not received:
            raise self._not_a_message("no stream events")
        if not stopped:
            raise ProviderError(
                f"{self._where}: the stream ended before message_stop (the answer was cut off).",
                retryable=True,
                billable=True,
            )
        text = "".join(parts["text"])
        if request.output_schema is not None and parts["tool_use"]:
            text = normalized_json("".join(parts["tool_use"]))
        usage = self._checked_usage(started, final, request, text)
        finish = finish_reason(stop_reason)
        yield StreamChunk(response=ModelResponse(text=text, usage=usage, model=self.model, finish_reason=finish))

    async def aclose(self) -> None:
        await self.client.close()

    def wire_request(self, request: ModelRequest, stream: bool = False) -> dict[str, Any]:
        """The keyword arguments of `messages.create` for `request`."""
        return wire_request(request, self.model, self.sends_temperature, stream)

    @property
    def _where(self) -> str:
        return f"{self.base_url} ({self.model})"

    async def _create(self, request: ModelRequest, stream: bool) -> Any:
        try:
            return await self.client.messages.create(**self.wire_request(request, stream))
        except (self.sdk.APIError, ValueError) as exc:  # ValueError: an answer that is not JSON
            raise self._error(exc) from exc

    async def _before(self, deadline: float, step: Awaitable[T]) -> T:
        return await before(deadline, step, self._where, self.timeout)

    def _checked_usage(self, started: Any, final: Any, request: ModelRequest, text: str) -> Usage:
        """The server's usage when this request could have used it, otherwise our own count.

        The prompt is the uncached input plus the tokens written to and read from the cache.
        A stream reports the prompt on message_start and cumulative counts on message_delta.
        """
        reported = [u for u in (started, final) if u is not None]
        if not reported:
            return checked_usage(self, request, text, None, None, self._where)

        def latest(name: str) -> Any:
            values = [getattr(u, name, None) for u in reported]
            return next((v for v in reversed(values) if v is not None), None)

        read, written = latest("cache_read_input_tokens") or 0, latest("cache_creation_input_tokens") or 0
        uncached, completion = latest("input_tokens"), latest("output_tokens")
        counts = (uncached, read, written)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
            prompt: Any = uncached + read + written
        else:
            prompt = "not a count"  # rejected by checked_usage, which charges our own count
        return checked_usage(self, request, text, prompt, completion, self._where, cache_read=read, cache_write=written)

    def _not_a_message(self, shown: str) -> ProviderError:
        return ProviderError(
            f"{self._where} sent an answer that is not a Messages API message ({shown}); check that "
            f"{self.url_name} is Anthropic's API (without /v1).",
            retryable=True,
            billable=True,
        )

    def _error(self, exc: Exception) -> ProviderError | ConfigError:
        """Our error for anything the SDK raised, including answers it could not decode."""
        sdk = self.sdk
        if isinstance(exc, sdk.APIStatusError):
            return self._status_error(exc)
        cause = exc.__cause__ if isinstance(exc, sdk.APIConnectionError) else exc
        if isinstance(exc, sdk.APITimeoutError) or "Timeout" in type(cause).__name__:
            return ProviderError(
                f"{self._where} timed out; raise TIMEOUT if the model is slow.", retryable=True, billable=True
            )
        if cause is not None and (type(cause).__name__ in _BROKEN_ANSWER or _transport_error(cause)):
            return ProviderError(
                f"{self._where}: the connection closed before the answer was complete ({brief(cause)}).",
                retryable=True,
                billable=True,
            )
        if isinstance(exc, sdk.APIConnectionError):
            reason = str(exc).rstrip(".")
            return ProviderError(
                f"Cannot reach {self.base_url}: {reason}. Check {self.url_name} and that the server runs.",
                retryable=True,
            )
        return self._not_a_message(brief(exc))

    def _status_error(self, exc: Any) -> ProviderError | ConfigError:
        """Our error for an HTTP error, or an `error` event in a stream (status 200)."""
        status, kind, detail = exc.status_code, _error_type(exc.body), self._detail(exc)
        where = self._where
        if status < 400:  # the stream had begun: the server may bill what it generated
            return ProviderError(
                f"{where}: the stream broke off with {kind or 'an error'} ({detail}).",
                retryable=kind not in _NOT_RETRYABLE,
                billable=True,
            )
        if status in (401, 403) or kind in ("authentication_error", "permission_error"):
            return AuthenticationError(f"{where} refused the API key ({status}: {detail}). Check {self.key_name}.")
        if status == 402 or kind == "billing_error" or _out_of_credit(exc.body, detail):
            return ProviderError(f"{where}: the account has no credit left ({detail}). Check your plan and billing.")
        if status == 404:
            return ConfigError(
                f"{where}: model or endpoint not found ({detail}). Check OPENAI_API_MODEL and {self.url_name}."
            )
        if status == 413 or (status == 400 and _CONTEXT_WORDS.search(detail)):
            return ProviderError(
                f"{where}: the prompt does not fit the model's context window ({detail}). Set CONTEXT_WINDOW to "
                "the model's window or shorten the input.",
                status=status,
            )
        retry = {"retryable": True, "retry_after": retry_after(_headers(exc)), "status": status}
        if status == 429:
            return ProviderError(f"{where} is rate limiting ({detail}).", **retry)
        if status == 529 or kind == "overloaded_error":
            return ProviderError(f"{where} is overloaded ({status}: {detail}).", **retry)
        if status in (408, 409) or status >= 500:
            return ProviderError(f"{where} failed ({status}: {detail}).", **retry)
        return ProviderError(f"{where} rejected the request ({status}: {detail}).", status=status)

    def _detail(self, exc: Any) -> str:
        """The server's error message, printable, without the key."""
        body = exc.body
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        text = clean_text(str(message or body or exc.message), keep_newlines=False)[:500]
        return text.replace(self._key, "***") if self._key else text


def _answer_failure(sdk: ModuleType, exc: Exception) -> bool:
    """True for what a failed or undecodable answer raises: the SDK's errors, a broken
    connection, JSON that is not a message (not our own mistakes)."""
    if isinstance(exc, sdk.APIError | ValueError | AttributeError | TypeError | KeyError):
        return True
    return type(exc).__name__ in _BROKEN_ANSWER or _transport_error(exc)


def _transport_error(exc: BaseException) -> bool:
    """True for the SDK's HTTP library failing mid-answer (raised unwrapped while a stream is read)."""
    return any(c.__name__ == "TransportError" for c in type(exc).__mro__)


def _out_of_credit(body: Any, detail: str) -> bool:
    """A credit balance too low, or a spend limit reached (a 429 that waiting does not lift)."""
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    code = details.get("error_code") if isinstance(details, dict) else None
    return "credit balance" in detail.lower() or (isinstance(code, str) and code.endswith("spend_limit_reached"))


def _error_type(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else None


def _headers(exc: Any) -> Any:
    return exc.response.headers if getattr(exc, "response", None) is not None else {}


async def _close(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # closing a broken connection must not hide the real outcome
            await close()
