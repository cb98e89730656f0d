"""The models' list prices, in dollars per million tokens; `MODEL_PRICES` overrides any of them.

Data of the catalogue: the providers price what they report with it and `CostManager` charges it.
"""

from __future__ import annotations

from metagpt.configs.settings import ModelPrice

# Dollars per 1M tokens, list prices. Longer prefixes win, so dated snapshots (`gpt-4o-2024-08-06`,
# `claude-sonnet-4-5-20250929`) take their family's price. Override any model with MODEL_PRICES.
TOKEN_PRICES: dict[str, ModelPrice] = {
    name: ModelPrice(prompt=prompt, completion=completion)
    for name, prompt, completion in [
        ("gpt-5", 1.25, 10.0),
        ("gpt-5-mini", 0.25, 2.0),
        ("gpt-5-nano", 0.05, 0.40),
        ("gpt-4.1", 2.0, 8.0),
        ("gpt-4.1-mini", 0.40, 1.60),
        ("gpt-4.1-nano", 0.10, 0.40),
        ("gpt-4o", 2.50, 10.0),
        ("gpt-4o-mini", 0.15, 0.60),
        ("o1", 15.0, 60.0),
        ("o1-mini", 1.10, 4.40),
        ("o3", 2.0, 8.0),
        ("o3-mini", 1.10, 4.40),
        ("o4-mini", 1.10, 4.40),
        ("gpt-4-turbo", 10.0, 30.0),
        ("gpt-4", 30.0, 60.0),
        ("gpt-4-32k", 60.0, 120.0),
        ("gpt-3.5-turbo", 0.50, 1.50),
        # OpenAI-compatible vendors' main models
        ("deepseek-chat", 0.28, 0.42),
        ("deepseek-reasoner", 0.28, 0.42),
        ("kimi-k2", 0.60, 2.50),
        ("mistral-large-latest", 2.0, 6.0),
        ("mistral-small-latest", 0.10, 0.30),
        ("codestral-latest", 0.30, 0.90),
        ("openai/gpt-4o-mini", 0.15, 0.60),
        ("anthropic/claude-sonnet-4.5", 3.0, 15.0),
        ("llama-3.3-70b-versatile", 0.59, 0.79),
        ("llama-3.1-8b-instant", 0.05, 0.08),
        ("meta-llama/Llama-3.3-70B-Instruct-Turbo", 0.88, 0.88),
        ("accounts/fireworks/models/llama-v3p3-70b-instruct", 0.90, 0.90),
        ("deepseek-ai/DeepSeek-V3", 0.27, 1.10),
        ("qwen-plus", 0.40, 1.20),
        ("qwen-max", 1.60, 6.40),
        ("qwen-turbo", 0.05, 0.20),
        ("glm-4.6", 0.60, 2.20),
        ("grok-4", 3.0, 15.0),
        ("grok-3-mini", 0.30, 0.50),
    ]
}
# Google Gemini (prompts up to 200k tokens): cached prompt tokens cost a quarter of the prompt price.
TOKEN_PRICES.update(
    {
        name: ModelPrice(prompt=prompt, completion=completion, cache_read=prompt / 4)
        for name, prompt, completion in [
            ("gemini-2.5-pro", 1.25, 10.0),
            ("gemini-2.5-flash", 0.30, 2.50),
            ("gemini-2.5-flash-lite", 0.10, 0.40),
            ("gemini-2.0-flash", 0.10, 0.40),
            ("gemini-2.0-flash-lite", 0.075, 0.30),
        ]
    }
)
# Anthropic Claude: a cache write costs 1.25 times the prompt price (5-minute cache), a cache read 0.1 times.
TOKEN_PRICES.update(
    {
        name: ModelPrice(prompt=prompt, completion=completion, cache_read=prompt / 10, cache_write=prompt * 1.25)
        for name, prompt, completion in [
            ("claude-opus-4-5", 5.0, 25.0),
            ("claude-opus-4-1", 15.0, 75.0),
            ("claude-opus-4", 15.0, 75.0),
            ("claude-sonnet-4-5", 3.0, 15.0),
            ("claude-sonnet-4", 3.0, 15.0),
            ("claude-3-7-sonnet", 3.0, 15.0),
            ("claude-haiku-4-5", 1.0, 5.0),
            ("claude-3-5-haiku", 0.80, 4.0),
        ]
    }
)


def lookup_price(model: str, overrides: dict[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The configured or built-in price of `model`; None when unknown."""
    if overrides and model in overrides:
        return overrides[model]
    matches = [name for name in TOKEN_PRICES if model == name or model.startswith(name + "-")]
    return TOKEN_PRICES[max(matches, key=len)] if matches else None
