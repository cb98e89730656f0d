"""One model call on its way to the provider: the steps `metagpt.llm.LLM.request` composes.

`prepare` fits the request into the model's context window (`fit_to_window`) and counts the
prompt tokens its budget hold covers. `ModelCall.send` then answers it from the journal when an
earlier run already did (`replay`), or sends it in `with_retries` attempts, each of which
(`attempt`) reserves its worst case of the budget, is journaled before it is sent, waits for the
rate limit, and is charged and journaled by how it ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger

from metagpt.exceptions import ProviderError
from metagpt.journal.recorder import CallRecorder
from metagpt.provider.base import ModelRequest, ModelResponse, Provider
from metagpt.reservation import bounded_prompt, hold
from metagpt.utils.concurrency import SIBLING_FAILED
from metagpt.utils.faults import crash_point

if TYPE_CHECKING:
    from metagpt.configs.settings import Config
    from metagpt.context import Context

MIN_COMPLETION_TOKENS = 256
"""The smallest answer cap `fit_to_window` leaves a model with a large enough window."""
CANCEL_GRACE = 10.0
"""Seconds a cancelled call waits for the answer already on its way, so that it is charged."""
_TRIM_MARK = "\n[... trimmed to fit the context window ...]\n"


# -- before the call: the window and the prompt tokens --------------------------------------------


def prepare(request: ModelRequest, provider: Provider) -> ModelRequest:
    """`request` fitted to the model's window, with the prompt tokens its budget hold counts (the
    schema's too): an upper bound, counted exactly by `hold` only when the bound does not fit."""
    return bounded_prompt(provider, fit_to_window(request, provider))


def fit_to_window(request: ModelRequest, provider: Provider) -> ModelRequest:
    """Shrink `max_tokens`, then trim message text, until prompt + completion fit.

    The least important context goes first: the system prompt and the last message (the
    instruction) are kept as long as possible; the middle of the longest other message is cut.
    A request that fits by the upper bound of its count (`Provider.prompt_token_bound`) is not
    counted exactly: only one that may not fit needs the model's vocabulary.
    """
    window = provider.context_window
    if not window or provider.prompt_token_bound(request.messages) + request.max_tokens <= window:
        return request
    prompt_tokens = provider.count_tokens(request.messages)
    if prompt_tokens + request.max_tokens <= window:
        return request
    max_tokens = max(min(request.max_tokens, window - prompt_tokens), min(MIN_COMPLETION_TOKENS, window // 4))
    messages = [dict(m) for m in request.messages]
    budget = window - max_tokens
    while prompt_tokens > budget:
        index = _longest_trimmable(messages)
        if index is None:
            break
        content = messages[index]["content"]
        excess_chars = max(64, int((prompt_tokens - budget) * 4.5))
        keep = max(0, len(content) - excess_chars)
        messages[index]["content"] = content[: keep // 2] + _TRIM_MARK + content[len(content) - keep // 2 :]
        if keep == 0:
            messages[index]["content"] = _TRIM_MARK.strip()
        prompt_tokens = provider.count_tokens(messages)
    logger.warning(
        f"{provider.model}: the prompt did not fit the {window}-token context window; "
        f"trimmed it to {prompt_tokens} tokens and capped the answer at {max_tokens} tokens."
    )
    return request.model_copy(update={"messages": messages, "max_tokens": max_tokens})


def _longest_trimmable(messages: list[dict[str, str]]) -> int | None:
    """Index of the longest message worth trimming: other context before system prompt and instruction."""
    last = len(messages) - 1
    others = [i for i, m in enumerate(messages) if i != last and m["role"] != "system"]
    for group in (others, range(len(messages))):
        candidates = [i for i in group if len(messages[i]["content"]) > len(_TRIM_MARK) + 16]
        if candidates:
            return max(candidates, key=lambda i: len(messages[i]["content"]))
    return None


def retry_delay(error: ProviderError, attempt: int) -> float:
    """Seconds before retrying after `error` ended attempt `attempt`: what the server asked for
    (at most a minute), else an exponential backoff from half a second (at most 30 seconds)."""
    if error.retry_after is not None:
        return min(error.retry_after, 60.0)
    return min(0.5 * 2.0 ** (attempt - 1), 30.0)


# -- the call: journal, retries, budget, rate limit -----------------------------------------------


@dataclass
class ModelCall:
    """A prepared request of `role` to `provider`, within `context`'s journal, budget and rate limit.

    `config` sets the retries and the timeout (a role's own model may bring its own); streamed
    text goes to `stream_sink`.
    """

    context: Context
    config: Config
    provider: Provider
    role: str
    stream_sink: Callable[[str], None]

    async def send(self, request: ModelRequest, stream: bool = False) -> ModelResponse:
        """The journal's answer to `request` when an earlier run got one, at no cost; else the
        provider's, each attempt journaled before it is sent and completed after it."""
        recorder = self.recorder(request)
        if recorder is not None:
            replayed = self.replay(recorder, stream)
            if replayed is not None:
                return replayed
        return await self.with_retries(lambda attempt: self.attempt(request, stream, recorder, attempt))

    def recorder(self, request: ModelRequest) -> CallRecorder | None:
        """Where this call is journaled; None without a journal."""
        journal = self.context.journal
        if journal is None:
            return None
        provider = self.provider
        base_url = getattr(provider, "base_url", "") or ""
        api_type = getattr(provider, "api_type", "") or self.config.resolved_api_type
        return CallRecorder(journal, self.role, provider.model, api_type, base_url, request)

    def replay(self, recorder: CallRecorder, stream: bool) -> ModelResponse | None:
        """The answer an earlier run journaled for this request (streamed out again), or None."""
        replayed = recorder.replay()
        if replayed is not None:
            logger.info(f"{self.role or 'LLM'}: answered from the journal ({recorder.start.call_key}), $0")
            if stream:
                self.stream_sink(replayed.text)
                self.stream_sink("\n")
        return replayed

    async def with_retries(self, attempt: Callable[[int], Awaitable[ModelResponse]]) -> ModelResponse:
        """`attempt(1)`, and again after each retryable `ProviderError`, at most `max_retries` times."""
        attempts = self.config.max_retries + 1
        for number in range(1, attempts + 1):
            try:
                return await attempt(number)
            except ProviderError as exc:
                if not exc.retryable or number == attempts:
                    raise
                delay = retry_delay(exc, number)
                logger.warning(f"{self.provider.model}: {exc}; retry {number} in {delay:.1f}s")
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def attempt(
        self, request: ModelRequest, stream: bool, recorder: CallRecorder | None, attempt: int
    ) -> ModelResponse:
        """One attempt: reserve, journal `started`, send, charge, journal how it ended."""
        provider = self.provider
        role, model, costs = self.role, provider.model, self.context.cost_manager
        request, reserved = await hold(costs, provider, request)
        price = costs.price(model, provider.priced)
        prices = (price.prompt, price.completion)
        row = recorder.begin(attempt, reserved) if recorder is not None else None
        crash_point("before_request")
        started = time.monotonic()

        def elapsed_ms() -> float:
            return (time.monotonic() - started) * 1000

        logger.trace(f"{role or 'LLM'} -> {model}: {request.messages}")
        sending = asyncio.ensure_future(self._send(request, stream))
        try:
            response = await asyncio.shield(sending)
        except asyncio.CancelledError as cancelled:
            late = await self._finish_in_flight(sending, wait=SIBLING_FAILED in cancelled.args)
            if late is None:
                cost = costs.settle(reserved, role, model, None, provider.priced, billed_unread=True)
                if recorder is not None and row is not None:
                    recorder.cancelled(row, cost, prices, elapsed_ms())
                raise
            self._charge(recorder, row, late, reserved, prices, elapsed_ms())
            raise
        except BaseException as exc:
            billed = isinstance(exc, ProviderError) and exc.billable
            cost = costs.settle(reserved, role, model, None, provider.priced, billed_unread=billed)
            if recorder is not None and row is not None:
                recorder.failed(row, exc, cost, prices, elapsed_ms())
            raise
        crash_point("after_answer")
        self._charge(recorder, row, response, reserved, prices, elapsed_ms())
        crash_point("after_journal")
        return response

    def _charge(
        self,
        recorder: CallRecorder | None,
        row: int | None,
        response: ModelResponse,
        reserved: float,
        prices: tuple[float, float],
        ms: float,
    ) -> None:
        provider, costs = self.provider, self.context.cost_manager
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

    async def _send(self, request: ModelRequest, stream: bool) -> ModelResponse:
        """The provider's answer, once the rate limit lets the request go."""
        await self.context.rate_limiter.acquire()
        return await (self._stream(request) if stream else self.provider.complete(request))

    async def _stream(self, request: ModelRequest) -> ModelResponse:
        final: ModelResponse | None = None
        async for chunk in self.provider.stream(request):
            if chunk.delta:
                self.stream_sink(chunk.delta)
            if chunk.response is not None:
                final = chunk.response
        self.stream_sink("\n")
        if final is None:
            raise ProviderError(f"{self.provider.model}: the stream ended without a final answer.", retryable=True)
        return final
