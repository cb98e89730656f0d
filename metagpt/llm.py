"""`LLM`: the configured provider wrapped once with retries, rate limit, budget, cost and logs.

llm = LLM()
await llm.aask("hello world")
rsp = await llm.acompletion([{"role": "user", "content": "hello"}])
rsp.choices[0].message.content
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from loguru import logger
from pydantic import BaseModel, ValidationError

from metagpt.context import Context
from metagpt.exceptions import ModelBehaviorError, ProviderError
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, Usage
from metagpt.utils.context_window import fit_to_window
from metagpt.utils.structured import format_instructions, output_schema, parse_output, strict_json_schema
from metagpt.utils.token_counter import count_text_tokens

T = TypeVar("T", bound=BaseModel)

DEFAULT_SYSTEM = "You are a helpful assistant."
FIX_FORMAT = "Answer again with only the corrected JSON object."


def _print_stream(delta: str) -> None:
    sys.stdout.write(delta)
    sys.stdout.flush()


class LLM:
    """The model as roles and users see it.

    Args:
        context: shared config, budget and provider; a fresh `Context()` when omitted.
        role: name charged for the calls in the cost breakdown.
        stream_sink: receives streamed text; prints to stdout by default.
        provider: a provider of its own (e.g. a human at the terminal) instead of the context's.
    """

    def __init__(
        self,
        context: Context | None = None,
        role: str = "",
        stream_sink: Callable[[str], None] = _print_stream,
        provider: Provider | None = None,
    ):
        self.context = context or Context()
        self.role = role
        self.stream_sink = stream_sink
        self._provider = provider

    @property
    def config(self):
        return self.context.config

    @property
    def provider(self) -> Provider:
        return self._provider or self.context.provider

    @property
    def cost_manager(self):
        return self.context.cost_manager

    # -- public API ---------------------------------------------------------------------------

    async def aask(
        self,
        msg: str | list[Any],
        system_msgs: list[str] | None = None,
        format_msgs: list[dict[str, str]] | None = None,
        stream: bool = False,
        stop: list[str] | None = None,
        timeout: float | None = None,
    ) -> str:
        """Answer a user message (or a list of messages), after system messages and `format_msgs`.

        `timeout` is accepted for MetaGPT compatibility; `TIMEOUT` in the config governs calls.
        """
        messages = self.messages(msg, system_msgs)
        if format_msgs:
            messages[-1:-1] = format_msgs
        return (await self.acompletion(messages, stream=stream, stop=stop)).text

    async def aask_batch(
        self, msgs: list[str], system_msgs: list[str] | None = None, timeout: float | None = None
    ) -> str:
        """Ask several messages in one conversation, each after the previous answer.

        Returns the answers joined by newlines. The calls depend on each other, so they run in turn.
        """
        messages = [{"role": "system", "content": s} for s in (system_msgs or [DEFAULT_SYSTEM])]
        answers = []
        for msg in msgs:
            messages.append({"role": "user", "content": msg})
            answer = await self.acompletion_text(messages)
            messages.append({"role": "assistant", "content": answer})
            answers.append(answer)
        return "\n".join(answers)

    async def acompletion(
        self,
        messages: list[dict[str, str]],
        stream: bool = False,
        stop: list[str] | None = None,
        timeout: float | None = None,
    ) -> ModelResponse:
        """One chat completion: `.text`, `.usage`, `.model`, and `.choices[0].message.content`."""
        request = ModelRequest(messages=as_chat(messages), stop=stop or [], **self._settings())
        return await self.request(request, stream=stream)

    async def acompletion_text(
        self, messages: list[dict[str, str]], stream: bool = False, timeout: float | None = None
    ) -> str:
        """The text of one chat completion."""
        return (await self.acompletion(messages, stream=stream)).text

    async def acompletion_batch(self, batch: list[list[dict[str, str]]]) -> list[ModelResponse]:
        """Independent chat completions, run concurrently within the rate limit and the budget.

        If one fails, the others are cancelled and the error is raised.
        """
        from metagpt.utils.concurrency import gather_or_cancel

        return await gather_or_cancel(self.acompletion(messages) for messages in batch)

    async def acompletion_batch_text(self, batch: list[list[dict[str, str]]]) -> list[str]:
        """The texts of `acompletion_batch`, in the order of `batch`."""
        return [response.text for response in await self.acompletion_batch(batch)]

    @staticmethod
    def get_choice_text(response: ModelResponse) -> str:
        return response.choices[0].message.content

    async def aask_model(
        self,
        msg: str,
        output_model: type[T],
        system_msgs: list[str] | None = None,
        stream: bool = False,
    ) -> T:
        """Ask for an answer shaped as `output_model`, validated with pydantic.

        The field-by-field format instructions are appended to `msg`, so the model knows the
        shape even where the endpoint cannot be told the schema.
        Invalid answers are fed back with the validation error, at most `MAX_FORMAT_RETRIES`
        times, then `ModelBehaviorError` is raised.
        """
        messages = self.messages(f"{msg}\n\n{format_instructions(output_model)}", system_msgs)
        schema = output_schema(output_model)
        attempts = self.config.max_format_retries + 1
        for attempt in range(1, attempts + 1):
            request = ModelRequest(messages=messages, output_schema=schema, **self._settings())
            response = await self.request(request, stream=stream)
            try:
                return parse_output(response.text, output_model)
            except (ValueError, ValidationError) as exc:
                error = _short_error(exc)
                logger.warning(f"{self.role or 'LLM'}: invalid {output_model.__name__} ({attempt}/{attempts}): {error}")
                messages = [
                    *messages,
                    {"role": "assistant", "content": response.text},
                    {
                        "role": "user",
                        "content": f"That answer is invalid: {error}\n{FIX_FORMAT}",
                    },
                ]
        raise ModelBehaviorError(
            f"The model did not return a valid {output_model.__name__} after {attempts} attempts. "
            "Try a stronger model (OPENAI_API_MODEL) or raise MAX_FORMAT_RETRIES."
        )

    # -- the one wrapped call -------------------------------------------------------------------

    async def request(self, request: ModelRequest, stream: bool = False) -> ModelResponse:
        """Send one request through rate limit, budget check, retries, accounting and logging."""
        provider = self.provider
        request = fit_to_window(request, provider)
        prompt_tokens = provider.count_tokens(request.messages)
        if request.output_schema is not None:
            prompt_tokens += schema_tokens(request.output_schema.json_schema, provider.model)
        reservation = self.cost_manager.reserve(provider.model, prompt_tokens, request.max_tokens, provider.priced)
        usage: Usage | None = None
        try:
            logger.trace(f"{self.role or 'LLM'} -> {provider.model}: {request.messages}")
            started = time.monotonic()
            response = await self._with_retries(provider, request, stream)
            usage = response.usage
            elapsed = time.monotonic() - started
            logger.trace(f"{self.role or 'LLM'} <- {provider.model} ({elapsed:.1f}s, {usage}): {response.text}")
            return response
        finally:
            cost = self.cost_manager.settle(reservation, self.role, provider.model, usage, provider.priced)
            if usage is not None:
                logger.info(
                    f"{self.role or 'LLM'}: {usage.prompt_tokens}+{usage.completion_tokens} tokens, "
                    f"${cost:.4f}; total ${self.cost_manager.total_cost:.4f} of ${self.cost_manager.max_budget:.4f}"
                )

    async def _with_retries(self, provider: Provider, request: ModelRequest, stream: bool) -> ModelResponse:
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, ProviderError) and exc.retryable

        def wait(state) -> float:
            exc = state.outcome.exception()
            if isinstance(exc, ProviderError) and exc.retry_after is not None:
                return min(exc.retry_after, 60.0)
            return min(0.5 * 2 ** (state.attempt_number - 1), 30.0)

        def before_sleep(state) -> None:
            exc = state.outcome.exception()
            logger.warning(f"{provider.model}: {exc}; retry {state.attempt_number} in {state.next_action.sleep:.1f}s")

        retrying = AsyncRetrying(
            retry=retry_if_exception(retryable),
            stop=stop_after_attempt(self.config.max_retries + 1),
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self.context.rate_limiter.acquire()
                return await (self._stream(provider, request) if stream else provider.complete(request))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _stream(self, provider: Provider, request: ModelRequest) -> ModelResponse:
        final: ModelResponse | None = None
        async for chunk in provider.stream(request):
            if chunk.delta:
                self.stream_sink(chunk.delta)
            if chunk.response is not None:
                final = chunk.response
        self.stream_sink("\n")
        if final is None:
            raise ProviderError(f"{provider.model}: the stream ended without a final answer.", retryable=True)
        return final

    # -- helpers --------------------------------------------------------------------------------

    def _settings(self) -> dict:
        cap = self.provider.max_completion_tokens
        max_tokens = min(self.config.max_tokens, cap) if cap else self.config.max_tokens
        return {"max_tokens": max_tokens, "temperature": self.config.temperature}

    @staticmethod
    def messages(msg: str | list[Any], system_msgs: list[str] | None = None) -> list[dict[str, str]]:
        """A chat of the system messages (a default one when none) and the user message(s)."""
        systems = system_msgs or [DEFAULT_SYSTEM]
        users = as_chat(msg if isinstance(msg, list) else [msg])
        return [*({"role": "system", "content": s} for s in systems), *users]


def as_chat(messages: list[Any]) -> list[dict[str, str]]:
    """Chat dicts from dicts, `Message`s (their `to_dict`) or plain strings (user turns)."""
    chat = []
    for message in messages:
        if isinstance(message, dict):
            chat.append({"role": str(message["role"]), "content": str(message["content"])})
        elif hasattr(message, "to_dict"):
            item = message.to_dict()
            role = item["role"] if item["role"] in ("system", "user", "assistant") else "user"
            chat.append({"role": role, "content": item["content"]})
        else:
            chat.append({"role": "user", "content": str(message)})
    return chat


def schema_tokens(schema: dict, model: str) -> int:
    """Prompt tokens an endpoint may bill for a response schema, in whichever form it is sent."""
    forms = (schema, strict_json_schema(schema))
    return max(count_text_tokens(json.dumps(form), model) for form in forms)


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'root'}: {e['msg']}" for e in exc.errors()[:5])
    return str(exc)
