"""Any OpenAI-compatible endpoint through the official `openai` SDK.

Works with OpenAI, Azure OpenAI (`API_TYPE: azure`) and local servers (Ollama, vLLM,
llama.cpp server, LM Studio) through `OPENAI_BASE_URL`.

Structured answers ask for `response_format: json_schema` (strict). An endpoint that rejects
it gets `json_object` with the schema attached (the extension llama.cpp's servers use to
constrain decoding), then plain `json_object`, then the schema in the prompt only; what worked
is remembered per endpoint and model for the rest of the process.

`TIMEOUT` bounds each request as a whole (connecting, waiting, and reading the whole answer,
streamed or not), not only the gap between two bytes, so a server that trickles never holds a
call longer. Answers that are not chat completions and usage no request could produce are
endpoint failures, not crashes.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Literal, TypeVar

import openai
from loguru import logger

from metagpt.configs.prices import lookup_price
from metagpt.configs.settings import Config
from metagpt.exceptions import AuthenticationError, ConfigError, ProviderError, ResponseFormatUnsupported
from metagpt.provider import check_allowed
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, StreamChunk, Usage
from metagpt.provider.calls import before, brief, deadline_after, retry_after
from metagpt.provider.usage import checked_usage
from metagpt.utils.paths import clean_text
from metagpt.utils.structured import compact_examples, strict_json_schema

T = TypeVar("T")

FormatMode = Literal["json_schema", "json_object_schema", "json_object", "prompt"]
FORMAT_MODES: tuple[FormatMode, ...] = ("json_schema", "json_object_schema", "json_object", "prompt")
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|grammar|schema", re.IGNORECASE)

# (base_url, model) -> the first structured-output mode the endpoint accepts.
_endpoint_modes: dict[tuple[str, str], FormatMode] = {}

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def tls_context() -> ssl.SSLContext:
    """The certificate store every client in this process verifies against.

    Loading it takes tens of milliseconds, which a company per endpoint client (a batch runs
    many in one process) would otherwise pay again each time. It is the store the SDK's own HTTP
    library would build (the system's, or `SSL_CERT_FILE` / `SSL_CERT_DIR`); a change to those
    two gives a fresh one.
    """
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _tls_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    http = sys.modules.get(openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0])
    create = getattr(http, "create_ssl_context", None)  # httpx >= 0.28 and its successors
    return create() if create is not None else ssl.create_default_context(cafile=cafile, capath=capath)


class OpenAIProvider(Provider):
    """Chat completions on an OpenAI-compatible endpoint."""

    def __init__(self, config: Config):
        from metagpt.configs.catalogue import context_window_of, endpoint

        where = endpoint(config)
        self.api_type = where.api_type
        self.model = where.model
        self.base_url = where.base_url or DEFAULT_BASE_URL
        self.key_name, self.url_name = where.key_name or "OPENAI_API_KEY", where.url_name
        self.timeout = config.timeout
        self.context_window = config.context_window or context_window_of(self.model)
        # A server on this machine costs nothing, unless it serves a priced model (a local proxy).
        self.priced = not is_loopback(self.base_url) or lookup_price(self.model, config.model_prices) is not None
        common: dict[str, Any] = {
            "api_key": where.api_key or "sk-no-key-required",
            "timeout": config.timeout,
            "max_retries": 0,
            "http_client": openai.DefaultAsyncHttpxClient(verify=tls_context()),
        }
        if where.protocol == "azure":
            if not config.openai_api_version:
                raise ConfigError("Azure needs OPENAI_BASE_URL (your resource endpoint) and OPENAI_API_VERSION.")
            self.client: openai.AsyncOpenAI = openai.AsyncAzureOpenAI(
                azure_endpoint=self.base_url, api_version=config.openai_api_version, **common
            )
        else:
            self.client = openai.AsyncOpenAI(base_url=self.base_url, **common)

    @classmethod
    def from_config(cls, config: Config) -> OpenAIProvider:
        return cls(config)

    @property
    def format_mode(self) -> FormatMode:
        """The structured-output mode this endpoint is known to accept (optimistic at first)."""
        return _endpoint_modes.get((self.base_url, self.model), "json_schema")

    async def complete(self, request: ModelRequest) -> ModelResponse:
        check_allowed("openai")
        deadline = deadline_after(self.timeout)
        response = await self._before(deadline, self._create(request, stream=False))
        choice = self._first_choice(response)
        text = choice.message.content or ""
        usage = self._checked_usage(getattr(response, "usage", None), request, text)
        return ModelResponse(text=text, usage=usage, model=self.model, finish_reason=choice.finish_reason)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        check_allowed("openai")
        deadline = deadline_after(self.timeout)
        stream = await self._before(deadline, self._create(request, stream=True))
        parts: list[str] = []
        reported: Any = None
        finish_reason = None
        events = 0
        chunks = aiter(stream)
        try:
            while True:
                try:
                    chunk = await self._before(deadline, anext(chunks))
                except StopAsyncIteration:
                    break
                events += 1
                reported = getattr(chunk, "usage", None) or reported
                for choice in getattr(chunk, "choices", None) or []:
                    if choice.delta and choice.delta.content:
                        parts.append(choice.delta.content)
                        yield StreamChunk(delta=choice.delta.content)
                    finish_reason = choice.finish_reason or finish_reason
        except (openai.APIError, ValueError, AttributeError, TypeError) as exc:
            raise self._error(exc) from exc
        finally:
            await _close(stream)
        if not events:
            raise ProviderError(
                f"{self._where}: the answer held no stream events; check that OPENAI_BASE_URL is an "
                "OpenAI-compatible /v1 endpoint.",
                retryable=True,
                billable=True,
            )
        text = "".join(parts)
        usage = self._checked_usage(reported, request, text)
        yield StreamChunk(response=ModelResponse(text=text, usage=usage, model=self.model, finish_reason=finish_reason))

    async def aclose(self) -> None:
        await self.client.close()

    @property
    def _where(self) -> str:
        return f"{self.base_url} ({self.model})"

    async def _before(self, deadline: float, step: Awaitable[T]) -> T:
        return await before(deadline, step, self._where, self.timeout)

    def _error(self, exc: Exception) -> ProviderError | ConfigError:
        """Our error for anything the SDK raised, including answers it could not decode."""
        if isinstance(exc, openai.APIError):
            return _translate(exc, self.base_url, self.model, self.key_name)
        return ProviderError(
            f"{self._where} sent an answer that is not a valid chat completion ({brief(exc)}); check that "
            "OPENAI_BASE_URL is an OpenAI-compatible /v1 endpoint.",
            retryable=True,
            billable=True,
        )

    def _first_choice(self, response: Any) -> Any:
        """The first choice of a chat completion, or a `ProviderError` when the answer is not one."""
        choices = getattr(response, "choices", None)
        first = choices[0] if isinstance(choices, list) and choices else None
        message = getattr(first, "message", None)
        if message is None or not isinstance(getattr(message, "content", None), str | None):
            shown = f"{type(response).__name__} {brief(response)}" if not choices else "a choice without a message"
            if isinstance(choices, list) and not choices:
                shown = "no choices"
            raise ProviderError(
                f"{self._where} sent an answer that is not a chat completion ({shown}); check that OPENAI_BASE_URL "
                "is an OpenAI-compatible /v1 endpoint.",
                retryable=True,
                billable=True,
            )
        return first

    def _checked_usage(self, reported: Any, request: ModelRequest, text: str) -> Usage:
        """The server's usage when this request could have used it, otherwise our own count."""
        prompt = getattr(reported, "prompt_tokens", None) if reported is not None else None
        completion = getattr(reported, "completion_tokens", None) if reported is not None else None
        if reported is not None and prompt is None and completion is None:
            prompt = completion = "missing"  # a usage object without counts: not trusted
        return checked_usage(self, request, text, prompt, completion, self._where)

    async def _create(self, request: ModelRequest, stream: bool) -> Any:
        """Send the request, falling back to weaker structured-output modes on rejection."""
        while True:
            mode = self.format_mode if request.output_schema else "prompt"
            try:
                return await self.client.chat.completions.create(**self._kwargs(request, mode, stream))
            except openai.APIStatusError as exc:
                error = _translate(exc, self.base_url, self.model, self.key_name)
                if isinstance(error, ResponseFormatUnsupported) and mode != "prompt":
                    following = FORMAT_MODES[FORMAT_MODES.index(mode) + 1]
                    _endpoint_modes[(self.base_url, self.model)] = following
                    continue
                raise error from exc
            except (openai.APIError, ValueError) as exc:
                raise self._error(exc) from exc

    def _kwargs(self, request: ModelRequest, mode: FormatMode, stream: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            kwargs["stop"] = request.stop
        if stream:
            kwargs["stream"] = True
            kwargs["stream_options"] = {"include_usage": True}
        if request.output_schema and mode == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.output_schema.name,
                    "schema": strict_json_schema(request.output_schema.json_schema),
                    "strict": True,
                },
            }
        elif request.output_schema and mode == "json_object_schema":
            schema = strict_json_schema(request.output_schema.json_schema)
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
            # Such servers (llama.cpp's) build a grammar with one optional space between tokens:
            # the example is shown compact, as that grammar lets the model copy it.
            kwargs["messages"] = compact_examples(request.messages)
        elif request.output_schema and mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs


def is_loopback(url: str) -> bool:
    """True for a server on this machine (Ollama, vLLM, LM Studio...), whose calls cost nothing.

    Only `localhost` and loopback addresses count (`127.x.y.z`, `::1`, `::ffff:127.0.0.1`, and
    `0.0.0.0`, which reaches this machine); a host name such as `127.evil.net` is remote.
    """
    from urllib.parse import urlparse

    try:
        host = (urlparse(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


async def _close(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        try:
            await close()
        except Exception as exc:  # closing a broken connection must not hide the real outcome
            logger.debug(f"closing the stream failed: {exc!r}")


# Transport errors raised once the server had started answering: the endpoint was reached.
_BROKEN_ANSWER = {"RemoteProtocolError", "ReadError", "IncompleteRead", "ProtocolError", "DecodingError"}


def _translate(
    exc: openai.APIError, base_url: str, model: str, key_name: str = "OPENAI_API_KEY"
) -> ProviderError | ConfigError:
    """Our error for an SDK error, with a message that says what to do."""
    where = f"{base_url} ({model})"
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(f"{where} timed out; raise TIMEOUT if the model is slow.", retryable=True, billable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        if cause is not None and type(cause).__name__ in _BROKEN_ANSWER:
            return ProviderError(
                f"{where}: the connection closed before the answer was complete ({brief(cause)}).",
                retryable=True,
                billable=True,
            )
        reason = str(exc).rstrip(".")
        return ProviderError(
            f"Cannot reach {base_url}: {reason}. Check OPENAI_BASE_URL and that the server runs.", retryable=True
        )
    if not isinstance(exc, openai.APIStatusError):
        return ProviderError(f"{where}: {exc}")
    status, detail = exc.status_code, _detail(exc)
    wait = retry_after(exc.response.headers if exc.response is not None else {})
    if status in (401, 403):
        return AuthenticationError(f"{where} refused the API key ({status}: {detail}). Check {key_name}.")
    if status == 404:
        return ConfigError(
            f"{where}: model or endpoint not found ({detail}). Check OPENAI_API_MODEL and OPENAI_BASE_URL."
        )
    if status == 429:
        if "insufficient_quota" in detail or "quota" in str(getattr(exc, "code", "") or ""):
            return ProviderError(f"{where}: the account has no quota left ({detail}). Check your plan and billing.")
        return ProviderError(
            f"{where} is rate limiting ({detail}).",
            retryable=True,
            retry_after=wait,
            status=status,
        )
    if status in (400, 422, 500, 501) and _FORMAT_WORDS.search(detail):
        return ResponseFormatUnsupported(f"{where} rejected the response format ({status}: {detail}).")
    if status in (408, 409) or status >= 500:
        return ProviderError(
            f"{where} failed ({status}: {detail}).",
            retryable=True,
            retry_after=wait,
            status=status,
        )
    return ProviderError(f"{where} rejected the request ({status}: {detail}).", status=status)


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return clean_text(str(message), keep_newlines=False)[:500]
    return clean_text(str(exc.message), keep_newlines=False)[:500]


class OpenAILLM(OpenAIProvider):
    """MetaGPT's name for the OpenAI provider: `OpenAILLM(config)` with `aask` and `acompletion`.

    `config` is a `Config` or MetaGPT's `config.llm` view (`metagpt.configs.llm_config.LLMConfig`).
    This is the bare provider, one request per call; roles and actions ask through
    `metagpt.llm.LLM`, which adds retries, the budget and cost accounting.
    """

    def __init__(self, config: Any = None):
        config = getattr(config, "config", config)
        self.settings: Config = config if isinstance(config, Config) else Config.default()
        super().__init__(self.settings)

    async def acompletion(self, messages: list[dict[str, str]], timeout: float | None = None) -> ModelResponse:
        request = ModelRequest(
            messages=messages, max_tokens=self.settings.max_tokens, temperature=self.settings.temperature
        )
        return await self.complete(request)

    async def aask(self, msg: str, system_msgs: list[str] | None = None, **kwargs: Any) -> str:
        systems = [{"role": "system", "content": s} for s in system_msgs or ["You are a helpful assistant."]]
        return (await self.acompletion([*systems, {"role": "user", "content": msg}])).text
