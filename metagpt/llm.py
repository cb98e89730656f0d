"""`LLM`: the configured provider wrapped once with retries, rate limit, budget, cost and logs.

llm = LLM()
await llm.aask("hello world")
rsp = await llm.acompletion([{"role": "user", "content": "hello"}])
rsp.choices[0].message.content
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from loguru import logger
from pydantic import BaseModel, ValidationError

from metagpt.context import Context
from metagpt.exceptions import ModelBehaviorError, ProviderError
from metagpt.journal.recorder import CallRecorder
from metagpt.provider.base import ModelRequest, ModelResponse, OutputSchema, Provider
from metagpt.reservation import bounded_prompt, hold
from metagpt.utils.concurrency import SIBLING_FAILED
from metagpt.utils.context_window import fit_to_window
from metagpt.utils.faults import crash_point
from metagpt.utils.structured import format_instructions, output_schema, parse_output, strict_json_schema
from metagpt.utils.token_counter import count_text_tokens

if TYPE_CHECKING:
    from metagpt.configs.settings import Config
    from metagpt.cost_manager import CostManager

T = TypeVar("T", bound=BaseModel)

DEFAULT_SYSTEM = "You are a helpful assistant."
FIX_FORMAT = "Answer again with only the corrected JSON object."
RETRY_TEMPERATURE_STEP = 0.4
"""How much hotter a format retry is sent after the model repeated an invalid answer."""
CANCEL_GRACE = 10.0
"""Seconds a cancelled call waits for the answer already on its way, so that it is charged."""


def _print_stream(delta: str) -> None:
    from metagpt.utils.paths import clean_text

    sys.stdout.write(clean_text(delta))  # any ESC, C1 or bidi byte is dropped, whatever the split
    sys.stdout.flush()


class LLM:
    """The model as roles and users see it.

    Args:
        context: shared config, budget and provider; a fresh `Context()` when omitted.
        role: name charged for the calls in the cost breakdown.
        stream_sink: receives streamed text; prints to stdout by default.
        provider: a provider of its own (e.g. a human at the terminal) instead of the context's.
        config: settings of its own (a role's model from `roles:`) instead of the context's; the
            budget stays the context's.
    """

    def __init__(
        self,
        context: Context | None = None,
        role: str = "",
        stream_sink: Callable[[str], None] = _print_stream,
        provider: Provider | None = None,
        config: Config | None = None,
    ):
        self.context = context or Context()
        self.role = role
        self.stream_sink = stream_sink
        self._provider = provider
        self._config = config

    @property
    def config(self) -> Config:
        return self._config if self._config is not None else self.context.config

    @property
    def provider(self) -> Provider:
        return self._provider or self.context.provider

    @property
    def cost_manager(self) -> CostManager:
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
        validation_context: dict[str, Any] | None = None,
        closing: str = "",
    ) -> T:
        """Ask for an answer shaped as `output_model`, validated with pydantic.

        The field-by-field format instructions are appended to `msg`, so the model knows the
        shape even where the endpoint cannot be told the schema. `validation_context` reaches
        the model's validators (`ValidationInfo.context`), e.g. an earlier document that can
        repair a gap in this one.
        Invalid answers are fed back with the validation error, at most `MAX_FORMAT_RETRIES`
        times, then `ModelBehaviorError` is raised. An invalid answer the model already gave is
        not paid for again unchanged: the next request is sent hotter (`RETRY_TEMPERATURE_STEP`)
        and without the repeated answer, only a short note of what was wrong with it.
        """
        first_request = self.model_request(msg, output_model, system_msgs, closing)
        messages = first = first_request.messages
        schema = first_request.output_schema
        settings = self._settings()
        attempts = self.config.max_format_retries + 1
        seen: set[str] = set()
        for attempt in range(1, attempts + 1):
            request = ModelRequest(messages=messages, output_schema=schema, **settings)
            response = await self.request(request, stream=stream)
            try:
                return parse_output(response.text, output_model, validation_context)
            except (ValueError, ValidationError) as exc:
                error = _short_error(exc)
                logger.warning(f"{self.role or 'LLM'}: invalid {output_model.__name__} ({attempt}/{attempts}): {error}")
                if attempt == attempts:
                    break  # no attempt is left: nothing is asked afresh
                answer = response.text.strip()
                if answer in seen:
                    settings = {**settings, "temperature": self._hotter(settings["temperature"])}
                    messages = self._with_note(first, f"An earlier answer was invalid: {error}\n{FIX_FORMAT}")
                    logger.warning(
                        f"{self.role or 'LLM'}: the same invalid answer again; asking afresh at temperature "
                        f"{settings['temperature']:.1f}"
                    )
                else:
                    messages = [
                        *messages,
                        {"role": "assistant", "content": response.text},
                        {"role": "user", "content": f"That answer is invalid: {error}\n{FIX_FORMAT}"},
                    ]
                seen.add(answer)
        raise ModelBehaviorError(
            f"The model did not return a valid {output_model.__name__} after {attempts} attempts. "
            "Try a stronger model (OPENAI_API_MODEL) or raise MAX_FORMAT_RETRIES."
        )

    def model_request(
        self, msg: str, output_model: type[BaseModel], system_msgs: list[str] | None = None, closing: str = ""
    ) -> ModelRequest:
        """The first request `aask_model` sends for `output_model` (a format retry adds to it).

        `closing` comes after the format and its example: the last thing a model reads before
        answering (e.g. the idea restated, so a small model does not answer the example's).
        """
        text = f"{msg}\n\n{format_instructions(output_model)}" + (f"\n\n{closing}" if closing else "")
        messages = self.messages(text, system_msgs)
        return ModelRequest(messages=messages, output_schema=output_schema(output_model), **self._settings())

    async def acompletion_schema(self, messages: list[dict[str, str]], schema: OutputSchema) -> ModelResponse:
        """One chat completion constrained to `schema` where the endpoint can (a grammar locally).

        Unlike `aask_model` the answer is not validated or retried here: the caller parses it and
        decides what an invalid answer costs (the agent sends it back as an observation).
        """
        request = ModelRequest(messages=as_chat(messages), output_schema=schema, **self._settings())
        return await self.request(request)

    @staticmethod
    def _hotter(temperature: float) -> float:
        """The temperature for a retry after a repeated invalid answer: a step up, at most 1.0."""
        return min(1.0, max(temperature, 0.0) + RETRY_TEMPERATURE_STEP)

    @staticmethod
    def _with_note(messages: list[dict[str, str]], note: str) -> list[dict[str, str]]:
        """`messages` with `note` added to the last user turn: a fresh start that says what went wrong."""
        *head, last = messages
        return [*head, {**last, "content": f"{last['content']}\n\n{note}"}]

    # -- the one wrapped call -------------------------------------------------------------------

    async def request(self, request: ModelRequest, stream: bool = False) -> ModelResponse:
        """Send one request through the journal, budget, rate limit, retries, accounting and logs.

        With a journal, a request an earlier run already answered is answered from it at no
        cost; otherwise each attempt is journaled before it is sent and completed after it.
        Every attempt reserves its worst case first (`NoMoneyException` when it does not fit).
        """
        provider = self.provider
        request = self.prepare(request)
        recorder = self._recorder(provider, request)
        if recorder is not None:
            replayed = recorder.replay()
            if replayed is not None:
                logger.info(f"{self.role or 'LLM'}: answered from the journal ({recorder.start.call_key}), $0")
                if stream:
                    self.stream_sink(replayed.text)
                    self.stream_sink("\n")
                return replayed
        attempts = self.config.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return await self._attempt(provider, request, stream, recorder, attempt)
            except ProviderError as exc:
                if not exc.retryable or attempt == attempts:
                    raise
                delay = (
                    min(exc.retry_after, 60.0) if exc.retry_after is not None else min(0.5 * 2 ** (attempt - 1), 30.0)
                )
                logger.warning(f"{provider.model}: {exc}; retry {attempt} in {delay:.1f}s")
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def prepare(self, request: ModelRequest) -> ModelRequest:
        """`request` fitted to the model's window, with the prompt tokens its budget hold counts
        (the schema's too; an upper bound, counted exactly by `hold` when it does not fit);
        `reservation` prices its worst case from them."""
        provider = self.provider
        return bounded_prompt(provider, fit_to_window(request, provider))

    def reservation(self, request: ModelRequest) -> float:
        """The dollars each attempt of the prepared `request` holds before it is sent (its worst case)."""
        model, priced = self.provider.model, self.provider.priced
        return self.cost_manager.worst_case(model, request.prompt_tokens or 0, request.max_tokens, priced)

    async def _attempt(
        self, provider: Provider, request: ModelRequest, stream: bool, recorder: CallRecorder | None, attempt: int
    ) -> ModelResponse:
        """One attempt: reserve, journal `started`, send, charge, journal how it ended."""
        role, model, costs = self.role, provider.model, self.cost_manager
        request, reserved = await hold(costs, provider, request)
        price = costs.price(model, provider.priced)
        prices = (price.prompt, price.completion)
        row = recorder.begin(attempt, reserved) if recorder is not None else None
        crash_point("before_request")
        started = time.monotonic()

        def elapsed_ms() -> float:
            return (time.monotonic() - started) * 1000

        logger.trace(f"{role or 'LLM'} -> {model}: {request.messages}")
        sending = asyncio.ensure_future(self._send(provider, request, stream))
        try:
            response = await asyncio.shield(sending)
        except asyncio.CancelledError as cancelled:
            late = await self._finish_in_flight(sending, wait=SIBLING_FAILED in cancelled.args)
            if late is None:
                cost = costs.settle(reserved, role, model, None, provider.priced, billed_unread=True)
                if recorder is not None and row is not None:
                    recorder.cancelled(row, cost, prices, elapsed_ms())
                raise
            self._charge(recorder, row, late, reserved, provider, prices, elapsed_ms())
            raise
        except BaseException as exc:
            billed = isinstance(exc, ProviderError) and exc.billable
            cost = costs.settle(reserved, role, model, None, provider.priced, billed_unread=billed)
            if recorder is not None and row is not None:
                recorder.failed(row, exc, cost, prices, elapsed_ms())
            raise
        crash_point("after_answer")
        self._charge(recorder, row, response, reserved, provider, prices, elapsed_ms())
        crash_point("after_journal")
        return response

    def _charge(
        self,
        recorder: CallRecorder | None,
        row: int | None,
        response: ModelResponse,
        reserved: float,
        provider: Provider,
        prices: tuple[float, float],
        ms: float,
    ) -> None:
        costs = self.cost_manager
        cost = costs.settle(reserved, self.role, provider.model, response.usage, provider.priced)
        if recorder is not None and row is not None:
            recorder.ok(row, response, cost, prices, ms)
        usage = response.usage
        logger.trace(f"{self.role or 'LLM'} <- {provider.model} ({ms / 1000:.1f}s, {usage}): {response.text}")
        logger.info(
            f"{self.role or 'LLM'}: {usage.prompt_tokens}+{usage.completion_tokens} tokens, "
            f"${cost:.4f}; total ${costs.total_cost:.4f} of ${costs.max_budget:.4f}"
        )

    async def _finish_in_flight(self, sending: asyncio.Future[ModelResponse], wait: bool) -> ModelResponse | None:
        """After a sibling's failure cancelled this call, wait briefly for the answer already
        requested, so it is charged (and journaled) as the server bills it. None when it does not
        come in time, or when the run itself was stopped (no waiting then: it is charged at its
        worst case)."""
        done: set[asyncio.Future[ModelResponse]] = set()
        if wait:
            try:
                done, _ = await asyncio.wait({sending}, timeout=min(self.config.timeout, CANCEL_GRACE))
            except asyncio.CancelledError:
                done = set()
        if sending in done and not sending.cancelled() and sending.exception() is None:
            return sending.result()
        sending.cancel()
        return None

    async def _send(self, provider: Provider, request: ModelRequest, stream: bool) -> ModelResponse:
        await self.context.rate_limiter.acquire()
        return await (self._stream(provider, request) if stream else provider.complete(request))

    def _recorder(self, provider: Provider, request: ModelRequest) -> CallRecorder | None:
        journal = self.context.journal
        if journal is None:
            return None
        config = self.config
        base_url = getattr(provider, "base_url", "") or ""
        api_type = getattr(provider, "api_type", "") or config.resolved_api_type
        return CallRecorder(journal, self.role, provider.model, api_type, base_url, request)

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

    def _settings(self) -> dict[str, Any]:
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


def schema_tokens(schema: dict[str, Any], model: str) -> int:
    """Prompt tokens an endpoint may bill for a response schema, in whichever form it is sent."""
    return _schema_tokens(json.dumps(schema), model)


@functools.lru_cache(maxsize=64)
def _schema_tokens(schema_json: str, model: str) -> int:
    """`schema_tokens` of a schema given as JSON: an action sends the same schema on every call."""
    schema = json.loads(schema_json)
    forms = (schema_json, json.dumps(strict_json_schema(schema)))
    return max(count_text_tokens(form, model) for form in forms)


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'root'}: {e['msg']}" for e in exc.errors()[:5])
    return str(exc)
