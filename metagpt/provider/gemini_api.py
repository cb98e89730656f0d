"""Google's Gemini API (`generateContent`) through the official `google-genai` SDK.

System messages become the request's `systemInstruction`; the other turns are `user` and `model`
contents, consecutive turns of one role merged (the API wants them to alternate). Structured
answers ask for `responseMimeType: application/json` with the schema in `responseJsonSchema`,
in the subset of JSON Schema Gemini reads (both conversions: `metagpt.provider.gemini_wire`).
An endpoint that rejects the schema gets JSON without it (the prompt still describes the
shape); that is remembered per endpoint and model for the rest of the process.

As for OpenAI, `TIMEOUT` bounds each request as a whole, streamed or not; the SDK's own retries
are off (`metagpt.llm.LLM` retries, within the budget), and every usage goes through
`checked_usage`. Gemini reports `promptTokenCount` (cached tokens included, as
`cachedContentTokenCount`) and bills thinking (`thoughtsTokenCount`) as output.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar
from urllib.parse import urlparse

from metagpt.configs.prices import lookup_price
from metagpt.configs.settings import Config
from metagpt.exceptions import AuthenticationError, ConfigError, ProviderError
from metagpt.provider import check_allowed
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, StreamChunk, Usage
from metagpt.provider.calls import before, brief, deadline_after, timed_out
from metagpt.provider.gemini_wire import contents, gemini_schema
from metagpt.provider.openai_api import is_loopback, tls_context
from metagpt.provider.usage import checked_usage
from metagpt.utils.paths import clean_text

T = TypeVar("T")

INSTALL = 'pip install -e ".[gemini]"'
CONTEXT_WINDOWS = {"gemini-2": 1_048_576, "gemini-3": 1_048_576}
"""Input limit by model-name prefix, where `CONTEXT_WINDOW` does not say."""

FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length"}
BLOCKED = frozenset(
    {"SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "MODEL_ARMOR"}
)
"""Finish reasons (and prompt block reasons) that mean Gemini's filters withheld the answer."""

# (base_url, model) of endpoints that rejected `responseJsonSchema`: they get plain JSON mode.
_schema_rejected: set[tuple[str, str]] = set()

_API_VERSION = re.compile(r"/(v1|v1beta|v1alpha)/?$")
_CONTEXT_WORDS = re.compile(r"input token count|maximum number of tokens|context (length|window)|too long", re.I)
_SCHEMA_WORDS = re.compile(r"response_?json_?schema|response_?schema|schema", re.I)
_CONNECT_ERRORS = {"ConnectError", "ConnectTimeout", "UnsupportedProtocol", "InvalidURL", "ClientConnectorError"}
_TIMEOUTS = {"TimeoutException", "ServerTimeoutError"}
_TRANSPORTS = ("httpx", "httpx2", "httpcore", "aiohttp")


def _sdk() -> tuple[Any, Any, Any]:
    """`google.genai`, its `types` and its `errors`; a `ConfigError` saying how to install them."""
    try:
        from google import genai
        from google.genai import errors, types
    except ImportError:
        raise ConfigError(f"API_TYPE gemini needs Google's SDK, which is not installed: {INSTALL}") from None
    return genai, types, errors


class GeminiProvider(Provider):
    """Chat on Google's Gemini API (`api_type: gemini`, alias `google`)."""

    def __init__(self, config: Config):
        from metagpt.configs.catalogue import GEMINI_URL, endpoint

        genai, self._types, self._errors = _sdk()
        where = endpoint(config)
        self.api_type, self.model = where.api_type, where.model
        self.base_url = where.base_url or GEMINI_URL
        self.key_name, self.url_name = where.key_name or "GEMINI_API_KEY", where.url_name
        self._key = where.api_key or ""
        self.timeout = config.timeout
        self.context_window = config.context_window or next(
            (size for prefix, size in CONTEXT_WINDOWS.items() if self.model.startswith(prefix)), None
        )
        self.priced = not is_loopback(self.base_url) or lookup_price(self.model, config.model_prices) is not None
        root, version = _split_version(self.base_url)
        types = self._types
        options = types.HttpOptions(
            base_url=root,
            api_version=version,
            timeout=max(1, math.ceil(config.timeout * 1000)),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # no SDK retries, transport ones included
            # httpx reads `verify`, aiohttp `ssl`; each backend drops the other's.
            client_args={"verify": tls_context()},
            async_client_args={"verify": tls_context(), "ssl": tls_context()},
        )
        from google.genai.client import DebugConfig

        self.client = genai.Client(
            vertexai=False,  # never Vertex AI from GOOGLE_GENAI_USE_VERTEXAI
            api_key=self._key or "no-key-required",  # the SDK insists on one; local servers need none
            http_options=options,
            debug_config=DebugConfig(client_mode=None, replays_directory=None, replay_id=None),
        )

    @classmethod
    def from_config(cls, config: Config) -> GeminiProvider:
        return cls(config)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        check_allowed("gemini")
        deadline = deadline_after(self.timeout)
        response = await self._before(deadline, self._send(request, stream=False))
        parts, finish = self._read(response)
        text = "".join(parts)
        if finish is None:
            raise ProviderError(
                f"{self._where} sent an answer without a finish reason; check that {self.url_name} is a Gemini API "
                "endpoint.",
                retryable=True,
                billable=True,
            )
        usage = self._usage(getattr(response, "usage_metadata", None), request, text)
        return ModelResponse(text=text, usage=usage, model=self.model, finish_reason=finish)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        check_allowed("gemini")
        deadline = deadline_after(self.timeout)
        pending, chunks = await self._before(deadline, self._send(request, stream=True))
        parts: list[str] = []
        reported: Any = None
        finish: str | None = None
        try:
            while True:
                try:
                    chunk = pending.pop(0) if pending else await self._before(deadline, self._step(anext(chunks)))
                except StopAsyncIteration:
                    break
                reported = getattr(chunk, "usage_metadata", None) or reported
                new, finish = self._read(chunk, finish)
                for part in new:
                    parts.append(part)
                    yield StreamChunk(delta=part)
        finally:
            await _close(chunks)
        if finish is None:
            raise ProviderError(
                f"{self._where}: the stream ended before the answer was complete ({len(parts)} pieces, no finish "
                "reason).",
                retryable=True,
                billable=True,
            )
        text = "".join(parts)
        usage = self._usage(reported, request, text)
        yield StreamChunk(response=ModelResponse(text=text, usage=usage, model=self.model, finish_reason=finish))

    async def aclose(self) -> None:
        await self.client.aio.aclose()

    @property
    def _where(self) -> str:
        return f"{self.base_url} ({self.model})"

    async def _before(self, deadline: float, step: Awaitable[T]) -> T:
        return await before(deadline, step, self._where, self.timeout)

    async def _send(self, request: ModelRequest, stream: bool) -> Any:
        """Send the request; an endpoint that rejects the schema is asked again for plain JSON.

        A stream sends its request when its first chunk is read, so that is read here:
        `(the chunks read, the stream)`.
        """
        models = self.client.aio.models
        while True:
            with_schema = request.output_schema is not None and (self.base_url, self.model) not in _schema_rejected
            call = {
                "model": self.model,
                "contents": contents(request.messages)[1],
                "config": self._config(request, with_schema),
            }
            try:
                if not stream:
                    return await self._step(models.generate_content(**call))
                chunks = aiter(await self._step(models.generate_content_stream(**call)))
                try:
                    return [await self._step(anext(chunks))], chunks
                except StopAsyncIteration:
                    return [], chunks
            except ProviderError as exc:
                if not (with_schema and exc.status == 400 and _SCHEMA_WORDS.search(str(exc))):
                    raise
                _schema_rejected.add((self.base_url, self.model))

    async def _step(self, step: Awaitable[T]) -> T:
        """Await one step of the SDK, with its errors translated into ours."""
        try:
            return await step
        except self._errors.APIError as exc:
            raise self._translate(exc) from exc
        except ValueError as exc:  # not JSON, or JSON that is not a GenerateContentResponse
            raise ProviderError(
                f"{self._where} sent an answer that is not a Gemini response ({brief(exc)}); check that "
                f"{self.url_name} is a Gemini API endpoint.",
                retryable=True,
                billable=True,
            ) from exc
        except Exception as exc:
            error = self._transport_error(exc)
            if error is None:
                raise
            raise error from exc

    def _config(self, request: ModelRequest, with_schema: bool) -> Any:
        types = self._types
        system, _ = contents(request.messages)
        config: dict[str, Any] = {
            "max_output_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stop_sequences": list(request.stop),
            "automatic_function_calling": types.AutomaticFunctionCallingConfig(disable=True),
            "automatic_continuation": False,  # one request per call: the budget reserved for one
        }
        if system:
            config["system_instruction"] = types.Content(parts=[types.Part(text=text) for text in system])
        if request.output_schema is not None:
            config["response_mime_type"] = "application/json"
            if with_schema:
                config["response_json_schema"] = gemini_schema(request.output_schema.json_schema)
        return types.GenerateContentConfig(**config)

    def _read(self, response: Any, finish: str | None = None) -> tuple[list[str], str | None]:
        """The answer's text parts (not its thoughts) and finish reason (`finish` when it has none)."""
        candidates = getattr(response, "candidates", None) or []
        if not candidates:
            feedback = getattr(response, "prompt_feedback", None)
            blocked = _name(getattr(feedback, "block_reason", None))
            if blocked:
                raise self._blocked(f"the prompt was blocked ({blocked})")
            return [], finish
        candidate = candidates[0]
        content = getattr(candidate, "content", None)
        parts = [p.text for p in getattr(content, "parts", None) or [] if p.text and not p.thought]
        reason = _name(getattr(candidate, "finish_reason", None))
        if reason in BLOCKED:
            raise self._blocked(f"the answer was stopped ({reason})")
        return parts, FINISH_REASONS.get(reason, reason.lower()) if reason else finish

    def _blocked(self, what: str) -> ProviderError:
        return ProviderError(
            f"{self._where} refused: {what} by Gemini's safety or recitation filters. Rephrase the requirement, or "
            "choose another model with OPENAI_API_MODEL.",
            billable=True,  # the tokens it generated before stopping are billed
        )

    def _usage(self, reported: Any, request: ModelRequest, text: str) -> Usage:
        """The server's `usageMetadata` when this request could have used it, otherwise our own count."""
        if reported is None:
            return checked_usage(self, request, text, None, None, self._where)
        prompt = reported.prompt_token_count
        if prompt is None:
            return checked_usage(self, request, text, "missing", "missing", self._where)  # not trusted
        completion = (reported.candidates_token_count or 0) + (reported.thoughts_token_count or 0)
        cached = reported.cached_content_token_count or 0
        return checked_usage(self, request, text, prompt, completion, self._where, cache_read=cached)

    def _translate(self, exc: Any) -> ProviderError | ConfigError:
        """Our error for an HTTP error the API answered, with a message that says what to do."""
        where, code, status = self._where, int(exc.code or 0), str(exc.status or "")
        detail = clean_text(str(exc.message or exc.details), keep_newlines=False)[:500]
        if self._key:
            detail = detail.replace(self._key, "***")
        details = _error_details(exc)
        shown = f"{code} {status}: {detail}" if status else f"{code}: {detail}"
        key_refused = code == 400 and (
            "api key" in detail.lower() or any(d.get("reason") == "API_KEY_INVALID" for d in details)
        )
        if code in (401, 403) or key_refused:
            return AuthenticationError(f"{where} refused the API key ({shown}). Check {self.key_name}.", status=code)
        if code == 404:
            return ConfigError(
                f"{where}: model or endpoint not found ({shown}). Check OPENAI_API_MODEL and {self.url_name}."
            )
        if code == 429:
            daily = any("PerDay" in str(v.get("quotaId", "")) for d in details for v in d.get("violations", []))
            if daily or re.search(r"credits are depleted|prepayment", detail, re.I):
                return ProviderError(f"{where}: the account has no quota left ({shown}). Check your plan and billing.")
            return ProviderError(
                f"{where} is rate limiting ({shown}).",
                retryable=True,
                retry_after=_retry_after(exc, details),
                status=code,
            )
        if code == 400 and _CONTEXT_WORDS.search(detail):
            return ProviderError(
                f"{where}: the prompt does not fit the model's context window ({shown}). Set CONTEXT_WINDOW to the "
                "model's input limit, so prompts are trimmed to fit.",
                status=code,
            )
        if code in (408, 409) or code >= 500:
            return ProviderError(
                f"{where} failed ({shown}).", retryable=True, retry_after=_retry_after(exc, details), status=code
            )
        return ProviderError(f"{where} rejected the request ({shown}).", status=code)

    def _transport_error(self, exc: Exception) -> ProviderError | None:
        """Our error for a failure of the HTTP library the SDK uses (httpx, httpx2 or aiohttp); None otherwise."""
        names = {cls.__name__ for cls in type(exc).__mro__ if cls.__module__.split(".")[0] in _TRANSPORTS}
        if not names:
            return None
        if names & _CONNECT_ERRORS:
            return ProviderError(
                f"Cannot reach {self.base_url}: {brief(exc)}. Check {self.url_name} and that the server runs.",
                retryable=True,
            )
        if names & _TIMEOUTS:
            return timed_out(self._where, self.timeout)
        return ProviderError(
            f"{self._where}: the connection closed before the answer was complete ({brief(exc)}).",
            retryable=True,
            billable=True,
        )


def _split_version(base_url: str) -> tuple[str, str]:
    """`(root, api_version)` of a base URL: `.../v1beta` is the version, not a path to keep."""
    match = _API_VERSION.search(urlparse(base_url).path)
    if match is None:
        return base_url, "v1beta"
    return base_url[: len(base_url) - len(match.group(0))], match.group(1)


def _name(value: Any) -> str | None:
    """An SDK enum's name (`STOP`), or the string the server sent."""
    value = getattr(value, "value", value)
    return str(value) if value else None


def _error_details(exc: Any) -> list[dict[str, Any]]:
    """The `details` of a Google API error (`RetryInfo`, `QuotaFailure`, `ErrorInfo`, ...)."""
    body = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _retry_after(exc: Any, details: list[dict[str, Any]]) -> float | None:
    """The delay the server asks for: `RetryInfo.retryDelay` (`"12s"`), else a `Retry-After` header."""
    for detail in details:
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and re.fullmatch(r"\d+(\.\d+)?s", delay.strip()):
            return float(delay.strip()[:-1])
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


async def _close(chunks: Any) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):  # closing a broken stream must not hide the real outcome
            await close()
