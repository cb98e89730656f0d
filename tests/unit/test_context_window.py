"""fit_to_window: shrink the answer cap, then trim the least important context, never fail."""

from __future__ import annotations

from metagpt.model_call import MIN_COMPLETION_TOKENS, fit_to_window
from metagpt.provider.base import ModelRequest
from metagpt.provider.fake import FakeProvider

TRIM_MARK = "[... trimmed to fit the context window ...]"
SYSTEM = {"role": "system", "content": "You are a careful architect."}
INSTRUCTION = {"role": "user", "content": "Now write the system design."}


def provider_with_window(window: int | None) -> FakeProvider:
    provider = FakeProvider([])
    provider.context_window = window
    return provider


def long_text(tag: str, words: int) -> str:
    return f"{tag}-START " + "alpha beta gamma " * words + f"{tag}-END"


def test_request_that_fits_is_returned_unchanged():
    provider = provider_with_window(4000)
    request = ModelRequest(messages=[SYSTEM, INSTRUCTION], max_tokens=1000)

    assert fit_to_window(request, provider) is request


def test_no_known_window_means_no_change():
    request = ModelRequest(messages=[SYSTEM, {"role": "user", "content": long_text("X", 5000)}], max_tokens=4096)

    assert fit_to_window(request, provider_with_window(None)) is request


def test_completion_cap_shrinks_before_any_text_is_cut():
    provider = provider_with_window(1000)
    messages = [SYSTEM, INSTRUCTION]
    request = ModelRequest(messages=messages, max_tokens=4096)

    fitted = fit_to_window(request, provider)

    assert fitted.messages == messages
    assert fitted.max_tokens == 1000 - provider.count_tokens(messages)


def test_trims_middle_of_longest_context_message_and_keeps_system_and_instruction():
    provider = provider_with_window(400)
    short_context = {"role": "assistant", "content": "Earlier answer: use curses."}
    prd = {"role": "user", "content": long_text("PRD", 1500)}
    request = ModelRequest(messages=[SYSTEM, short_context, prd, INSTRUCTION], max_tokens=1000, temperature=0.3)

    fitted = fit_to_window(request, provider)

    assert fitted.messages[0] == SYSTEM
    assert fitted.messages[1] == short_context
    assert fitted.messages[3] == INSTRUCTION
    trimmed = fitted.messages[2]["content"]
    assert trimmed.startswith("PRD-START alpha beta")
    assert trimmed.endswith("alpha beta gamma PRD-END")
    assert trimmed.count(TRIM_MARK) == 1
    assert len(trimmed) < len(prd["content"])
    assert fitted.max_tokens == min(MIN_COMPLETION_TOKENS, 400 // 4)
    assert provider.count_tokens(fitted.messages) + fitted.max_tokens <= 400
    assert fitted.temperature == 0.3
    assert request.messages[2] == prd  # the caller's request is not changed
    assert request.max_tokens == 1000


def test_context_is_cut_before_a_longer_system_prompt_or_instruction():
    provider = provider_with_window(1200)
    system = {"role": "system", "content": long_text("SYS", 170)}
    context = {"role": "user", "content": long_text("CTX", 100)}
    instruction = {"role": "user", "content": long_text("ASK", 130)}
    request = ModelRequest(messages=[system, context, instruction], max_tokens=1000)
    assert provider.count_tokens([system]) > provider.count_tokens([instruction]) > provider.count_tokens([context])

    fitted = fit_to_window(request, provider)

    assert fitted.messages[0] == system
    assert fitted.messages[2] == instruction
    assert TRIM_MARK in fitted.messages[1]["content"]
    assert provider.count_tokens(fitted.messages) + fitted.max_tokens <= 1200


def test_system_and_instruction_are_trimmed_only_when_nothing_else_is_left():
    provider = provider_with_window(300)
    system = {"role": "system", "content": long_text("SYS", 800)}
    instruction = {"role": "user", "content": long_text("ASK", 200)}
    request = ModelRequest(messages=[system, instruction], max_tokens=500)

    fitted = fit_to_window(request, provider)

    assert provider.count_tokens(fitted.messages) + fitted.max_tokens <= 300
    assert [m["role"] for m in fitted.messages] == ["system", "user"]
    assert fitted.messages[0]["content"].startswith("SYS-START")
    assert TRIM_MARK in fitted.messages[0]["content"]
    assert fitted.messages[0]["content"].endswith("SYS-END")


def test_many_long_messages_all_fit_afterwards():
    provider = provider_with_window(600)
    messages = [SYSTEM]
    for i in range(4):
        messages.append({"role": "user", "content": long_text(f"DOC{i}", 300)})
        messages.append({"role": "assistant", "content": long_text(f"ANS{i}", 100)})
    messages.append(INSTRUCTION)

    fitted = fit_to_window(ModelRequest(messages=messages, max_tokens=2000), provider)

    assert provider.count_tokens(fitted.messages) + fitted.max_tokens <= 600
    assert fitted.messages[0] == SYSTEM
    assert fitted.messages[-1] == INSTRUCTION
    assert len(fitted.messages) == len(messages)
