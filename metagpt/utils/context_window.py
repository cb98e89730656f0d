"""Fit a request into the model's context window instead of failing."""

from __future__ import annotations

from loguru import logger

from metagpt.provider.base import ModelRequest, Provider

MIN_COMPLETION_TOKENS = 256
_TRIM_MARK = "\n[... trimmed to fit the context window ...]\n"


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
