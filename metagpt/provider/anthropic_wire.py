"""The Messages API's wire shape: our requests as its bodies, its answers as our text.

Kept apart from `anthropic_api` (the client, the deadline, errors), as plain data in and out,
so a test can read what would be sent without a server. Imports no SDK.
"""

from __future__ import annotations

import json
import re
from typing import Any

from metagpt.provider.base import ModelRequest
from metagpt.utils.token_counter import count_text_tokens, text_token_bound

FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "stop", "pause_turn": "stop"}
FINISH_REASONS |= {"max_tokens": "length", "model_context_window_exceeded": "length", "refusal": "content_filter"}
"""Anthropic's `stop_reason` -> the OpenAI-style finish reason callers read."""

CONTINUE = "Continue."
"""The user turn put where the API needs one and the conversation has none."""


def cache_minimum(model: str) -> int:
    """The fewest prompt tokens Anthropic caches for `model`: 2048 for Haiku, 1024 for the others."""
    return 2048 if "haiku" in model.lower() else 1024


def tool_name(name: str) -> str:
    """`name` as a tool name the API accepts (letters, digits, `_`, `-`; at most 64)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "answer"


def wire_messages(messages: list[dict[str, str]]) -> tuple[str, list[dict[str, str]]]:
    """The system prompt and the conversation as the Messages API takes them.

    System messages are joined into the system prompt; other turns become user or assistant
    turns (an unknown role is the user's), empty ones are dropped, consecutive ones of a role are
    merged, and a conversation that would start with the assistant (or hold nothing) starts with
    a user turn. One that ends with the assistant gets a user turn after it too: as in a chat
    completion, the model answers a new turn (the API would read the last turn as a prefill to
    continue, which newer models refuse).
    """
    systems = [m["content"] for m in messages if m.get("role") == "system" and m.get("content", "").strip()]
    turns: list[dict[str, str]] = []
    for message in messages:
        role, content = message.get("role"), message.get("content") or ""
        if role == "system" or not content.strip():
            continue
        role = "assistant" if role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1] = {"role": role, "content": f"{turns[-1]['content']}\n\n{content}"}
        else:
            turns.append({"role": role, "content": content})
    if not turns and systems:
        return "", [{"role": "user", "content": "\n\n".join(systems)}]
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": CONTINUE})
    if turns[-1]["role"] == "assistant":
        turns.append({"role": "user", "content": CONTINUE})
    return "\n\n".join(systems), turns


def wire_request(request: ModelRequest, model: str, temperature: bool, stream: bool = False) -> dict[str, Any]:
    """The keyword arguments of `messages.create` for `request` (`temperature`: whether to send one).

    A system prompt of at least `cache_minimum` tokens is one text block marked for the prompt
    cache; a structured answer is a forced call of one tool whose input schema is the answer's.
    """
    system, turns = wire_messages(request.messages)
    kwargs: dict[str, Any] = {"model": model, "max_tokens": request.max_tokens, "messages": turns}
    if temperature:
        kwargs["temperature"] = min(max(request.temperature, 0.0), 1.0)
    minimum = cache_minimum(model)  # below it by the UTF-8 length: no need to load a vocabulary
    if system and text_token_bound(system) >= minimum and count_text_tokens(system, model) >= minimum:
        kwargs["system"] = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
    elif system:
        kwargs["system"] = system
    stops = [s for s in request.stop if s.strip()]  # the API refuses whitespace-only stop sequences
    if stops:
        kwargs["stop_sequences"] = stops
    if request.output_schema is not None:
        name = tool_name(request.output_schema.name)
        schema = {"type": "object", **request.output_schema.json_schema}
        description = f"Give the answer as one {request.output_schema.name} object."
        kwargs["tools"] = [{"name": name, "description": description, "input_schema": schema}]
        kwargs["tool_choice"] = {"type": "tool", "name": name, "disable_parallel_tool_use": True}
    if stream:
        kwargs["stream"] = True
    return kwargs


def answer_text(request: ModelRequest, blocks: list[Any]) -> str:
    """The answer in a message's content blocks: the forced tool call's input as JSON, else the text."""
    if request.output_schema is not None:
        for block in blocks:
            if getattr(block, "type", None) == "tool_use":
                return json.dumps(getattr(block, "input", None), ensure_ascii=False)
    texts = [getattr(block, "text", None) for block in blocks if getattr(block, "type", None) == "text"]
    return "".join(t for t in texts if isinstance(t, str))


def stream_piece(event: Any) -> tuple[str, str]:
    """The kind of block (`text`, `tool_use`) a content block event adds to, and what it adds."""
    if event.type == "content_block_start":
        block = event.content_block
        return "text", (getattr(block, "text", "") or "") if getattr(block, "type", None) == "text" else ""
    delta = event.delta
    kind = getattr(delta, "type", None)
    if kind == "input_json_delta":
        return "tool_use", delta.partial_json or ""
    return "text", (delta.text or "") if kind == "text_delta" else ""


def normalized_json(text: str) -> str:
    """A streamed tool input as `answer_text` gives it (`json.dumps`), or as sent when it is not JSON
    (cut off by max_tokens: the caller's validation sends it back)."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def finish_reason(stop_reason: str | None) -> str | None:
    return FINISH_REASONS.get(stop_reason, stop_reason) if stop_reason else None
