"""Any OpenAI-compatible endpoint through the official `openai` SDK.

Works with OpenAI, Azure OpenAI (`API_TYPE: azure`) and local servers (Ollama, vLLM,
llama.cpp server, LM Studio) through `OPENAI_BASE_URL`.

Structured answers ask for `response_format: json_schema` (strict). An endpoint that rejects
it gets `json_object` with the schema attached (the extension llama.cpp's servers use to
constrain decoding), then plain `json_object`, then the schema in the prompt only; what worked
is remembered per endpoint and model for the rest of the process.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, Literal

import openai

from metagpt.config import Config
from metagpt.cost_manager import lookup_price
from metagpt.exceptions import AuthenticationError, ConfigError, ProviderError, ResponseFormatUnsupported
from metagpt.provider import check_allowed
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, StreamChunk, Usage
from metagpt.utils.structured import strict_json_schema
from metagpt.utils.token_counter import count_text_tokens

FormatMode = Literal["json_schema", "json_object_schema", "json_object", "prompt"]
FORMAT_MODES: tuple[FormatMode, ...] = ("json_schema", "json_object_schema", "json_object", "prompt")
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|grammar|schema", re.IGNORECASE)

# (base_url, model) -> the first structured-output mode the endpoint accepts.
_endpoint_modes: dict[tuple[str, str], FormatMode] = {}

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIProvider(Provider):
    """Chat completions on an OpenAI-compatible endpoint."""

    def __init__(self, config: Config):
        self.model = config.openai_api_model
        self.base_url = (config.openai_base_url or DEFAULT_BASE_URL).rstrip("/")
        # A server on this machine costs nothing, unless it serves a priced model (a local proxy).
        self.priced = not is_loopback(self.base_url) or lookup_price(self.model, config.model_prices) is not None
        key = config.openai_api_key
        if key is None and self.base_url == DEFAULT_BASE_URL:
            raise ConfigError(
                "No OpenAI API key: set OPENAI_API_KEY in config/key.yaml (or the environment), "
                "or OPENAI_BASE_URL for a local server."
            )
        common: dict[str, Any] = {"api_key": key or "sk-no-key-required", "timeout": config.timeout, "max_retries": 0}
        if config.resolved_api_type == "azure":
            if not config.openai_base_url or not config.openai_api_version:
                raise ConfigError("Azure needs OPENAI_BASE_URL (your resource endpoint) and OPENAI_API_VERSION.")
            self.client = openai.AsyncAzureOpenAI(
                azure_endpoint=config.openai_base_url, api_version=config.openai_api_version, **common
            )
        else:
            self.client = openai.AsyncOpenAI(base_url=self.base_url, **common)

    @property
    def format_mode(self) -> FormatMode:
        """The structured-output mode this endpoint is known to accept (optimistic at first)."""
        return _endpoint_modes.get((self.base_url, self.model), "json_schema")

    async def complete(self, request: ModelRequest) -> ModelResponse:
        check_allowed("openai")
        response = await self._create(request, stream=False)
        choice = response.choices[0]
        text = choice.message.content or ""
        usage = _usage(response.usage) or self._counted_usage(request, text)
        return ModelResponse(text=text, usage=usage, model=self.model, finish_reason=choice.finish_reason)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        check_allowed("openai")
        stream = await self._create(request, stream=True)
        parts: list[str] = []
        usage: Usage | None = None
        finish_reason = None
        try:
            async for chunk in stream:
                if chunk.usage:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        parts.append(choice.delta.content)
                        yield StreamChunk(delta=choice.delta.content)
                    finish_reason = choice.finish_reason or finish_reason
        except openai.APIError as exc:
            raise _translate(exc, self.base_url, self.model) from exc
        text = "".join(parts)
        usage = usage or self._counted_usage(request, text)
        yield StreamChunk(response=ModelResponse(text=text, usage=usage, model=self.model, finish_reason=finish_reason))

    async def aclose(self) -> None:
        await self.client.close()

    async def _create(self, request: ModelRequest, stream: bool) -> Any:
        """Send the request, falling back to weaker structured-output modes on rejection."""
        while True:
            mode = self.format_mode if request.output_schema else "prompt"
            try:
                return await self.client.chat.completions.create(**self._kwargs(request, mode, stream))
            except openai.APIStatusError as exc:
                error = _translate(exc, self.base_url, self.model)
                if isinstance(error, ResponseFormatUnsupported) and mode != "prompt":
                    following = FORMAT_MODES[FORMAT_MODES.index(mode) + 1]
                    _endpoint_modes[(self.base_url, self.model)] = following
                    continue
                raise error from exc
            except openai.APIError as exc:
                raise _translate(exc, self.base_url, self.model) from exc

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
        elif request.output_schema and mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs

    def _counted_usage(self, request: ModelRequest, text: str) -> Usage:
        """Usage from tiktoken, for endpoints that do not report it."""
        return Usage(
            prompt_tokens=self.count_tokens(request.messages), completion_tokens=count_text_tokens(text, self.model)
        )


def is_loopback(url: str) -> bool:
    """True for a server on this machine (Ollama, vLLM, LM Studio...), whose calls cost nothing."""
    from urllib.parse import urlparse

    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    return Usage(prompt_tokens=usage.prompt_tokens or 0, completion_tokens=usage.completion_tokens or 0)


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers if exc.response is not None else {}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                return None
    return None


def _translate(exc: openai.APIError, base_url: str, model: str) -> ProviderError | ConfigError:
    """Our error for an SDK error, with a message that says what to do."""
    where = f"{base_url} ({model})"
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(f"{where} timed out; raise TIMEOUT if the model is slow.", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        reason = str(exc).rstrip(".")
        return ProviderError(
            f"Cannot reach {base_url}: {reason}. Check OPENAI_BASE_URL and that the server runs.", retryable=True
        )
    if not isinstance(exc, openai.APIStatusError):
        return ProviderError(f"{where}: {exc}")
    status, detail = exc.status_code, _detail(exc)
    if status in (401, 403):
        return AuthenticationError(f"{where} refused the API key ({status}: {detail}). Check OPENAI_API_KEY.")
    if status == 404:
        return ConfigError(
            f"{where}: model or endpoint not found ({detail}). Check OPENAI_API_MODEL and OPENAI_BASE_URL."
        )
    if status == 429:
        if "insufficient_quota" in detail or "quota" in str(getattr(exc, "code", "") or ""):
            return ProviderError(f"{where}: the account has no quota left ({detail}). Check your plan and billing.")
        return ProviderError(f"{where} is rate limiting ({detail}).", retryable=True, retry_after=_retry_after(exc))
    if status in (400, 422, 500, 501) and _FORMAT_WORDS.search(detail):
        return ResponseFormatUnsupported(f"{where} rejected the response format ({status}: {detail}).")
    if status in (408, 409) or status >= 500:
        return ProviderError(f"{where} failed ({status}: {detail}).", retryable=True, retry_after=_retry_after(exc))
    return ProviderError(f"{where} rejected the request ({status}: {detail}).")


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:500]
    return str(exc.message)[:500]
