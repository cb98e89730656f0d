"""The usage a provider may charge for one call: the server's, when the request could have used it.

Every provider reports usage through `checked_usage`, so a server that omits usage, reports
negative counts, more completion tokens than `max_tokens`, or more tokens in all than the prompt
plus `max_tokens` allow is charged our own count instead, and spend never leaves what the budget
check reserved. The prompt bound allows a quarter more than our count, for tokenizers and chat
templates that differ from ours (`prompt_allowance`), of the count the budget held for: an upper
bound of our count (`metagpt.reservation`), or the count itself when the bound did not fit. Our
own count is made only when the server's cannot be used.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from metagpt.provider.base import ModelRequest, Provider, Usage, prompt_allowance
from metagpt.utils.token_counter import count_text_tokens


def counted_usage(provider: Provider, request: ModelRequest, text: str) -> Usage:
    """Usage by our own count (tiktoken), for servers that do not report it."""
    return Usage(
        prompt_tokens=provider.count_tokens(request.messages),
        completion_tokens=count_text_tokens(text, provider.model),
        counted=True,
    )


def prompt_count(provider: Provider, request: ModelRequest) -> int:
    """What the budget held for the request's prompt, its schema included (`prompt_tokens`: our
    count or an upper bound of it), or our count when the request was not prepared by `LLM`."""
    if request.prompt_tokens is not None:
        return request.prompt_tokens
    tokens = provider.count_tokens(request.messages)
    if request.output_schema is not None:
        tokens += count_text_tokens(str(request.output_schema.json_schema), provider.model)
    return tokens


def checked_usage(
    provider: Provider,
    request: ModelRequest,
    text: str,
    prompt: Any,
    completion: Any,
    where: str,
    cache_read: int = 0,
    cache_write: int = 0,
) -> Usage:
    """`Usage(prompt, completion)` as the server reported it, or our count when it cannot be true.

    `prompt` and `completion` are the server's counts (None when it sent none); `prompt` includes
    the cache's tokens (`cache_read`, `cache_write`), which price differently.
    """
    if prompt is None and completion is None:
        return counted_usage(provider, request, text)
    allowance = prompt_allowance(prompt_count(provider, request))
    problem = None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (prompt, completion, cache_read, cache_write)):
        problem = "is not a pair of token counts"
    elif min(prompt, completion, cache_read, cache_write) < 0:
        problem = "is negative"
    elif cache_read + cache_write > prompt:
        problem = f"has {cache_read + cache_write} cached tokens in a prompt of {prompt}"
    elif completion > request.max_tokens:
        problem = f"has {completion} completion tokens where max_tokens is {request.max_tokens}"
    elif prompt + completion > allowance + request.max_tokens:
        problem = (
            f"has {prompt + completion} tokens where the prompt and max_tokens allow {allowance + request.max_tokens}"
        )
    if problem is None:
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
        )
    counted = counted_usage(provider, request, text)  # only now: counting needs the vocabulary
    logger.warning(
        f"{where} reported usage that {problem}; charging our own count "
        f"({counted.prompt_tokens}+{counted.completion_tokens} tokens) instead."
    )
    return counted
