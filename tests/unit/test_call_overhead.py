"""What each model call does on its way out, made cheaper without changing what it does."""

from __future__ import annotations

import json

import pytest

from metagpt.config import Config
from metagpt.logs import MASK, redact
from metagpt.provider.openai_api import OpenAIProvider, tls_context
from metagpt.reservation import schema_tokens
from metagpt.utils.structured import strict_json_schema
from metagpt.utils.token_counter import count_message_tokens, count_text_tokens, get_encoding

SHAPES = [
    "sk-proj-abcdefghijklmnop",
    "Bearer abcdefgh12345678",
    "https://user:hunter22@example.com/v1",
    "ghp_abcdefghijklmnopqrstuvwxyz0123",
    "github_pat_abcdefghijklmnopqrstuvwxyz",
    "xoxb-1234567890-abcdef",
    "hf_abcdefghijklmnopqrstuvwxyz",
    "AKIAABCDEFGHIJKLMNOP",
    "ASIAABCDEFGHIJKLMNOP",
    "AIza" + "A" * 35,
]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_key_shape_is_still_masked_alone(shape: str) -> None:
    masked = redact(f"before {shape} after")
    assert MASK in masked
    secret = shape.split()[-1].split("://")[-1].split("@")[0].split(":")[-1]
    assert secret not in masked


def test_text_without_a_key_shape_comes_back_unchanged() -> None:
    text = "def main():\n    print('sk') # a skeleton, hf and AKI are words\n" * 200
    assert redact(text) == text


def test_counts_are_the_encodings_own_and_repeat_exactly() -> None:
    encoding = get_encoding("o200k_base")
    text = "Write the complete code of `game.py`.\n" * 50
    assert count_text_tokens(text) == len(encoding.encode(text)) == count_text_tokens(text)
    messages = [{"role": "system", "content": "You are an engineer."}, {"role": "user", "content": text}]
    expected = 3 + sum(3 + sum(len(encoding.encode(v)) for v in m.values()) for m in messages)
    assert count_message_tokens(messages) == expected == count_message_tokens(messages)


def test_schema_tokens_are_the_larger_of_the_two_forms_sent() -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "size": {"type": "integer", "default": 3}},
    }
    forms = (json.dumps(schema), json.dumps(strict_json_schema(schema)))
    expected = max(count_text_tokens(f, "gpt-4o") for f in forms)
    assert schema_tokens(schema, "gpt-4o") == expected == schema_tokens(schema, "gpt-4o")


def test_one_certificate_store_serves_every_client(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    first = OpenAIProvider(Config(openai_base_url="http://127.0.0.1:9/v1", openai_api_key="sk-a"))
    second = OpenAIProvider(Config(openai_base_url="http://127.0.0.1:9/v1", openai_api_key="sk-b"))
    assert first.client._client is not second.client._client  # a connection pool per provider
    shared = tls_context()
    for provider in (first, second):
        assert provider.client._client._transport._pool._ssl_context is shared
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))  # a changed setting gives a store of its own
    assert tls_context() is not shared and tls_context() is tls_context()


def test_the_first_calls_needs_load_in_the_background_for_an_endpoint_only() -> None:
    from metagpt.provider import prepare
    from metagpt.utils import token_counter

    assert prepare(Config(api_type="fake")) is None
    token_counter.forget_encodings()
    thread = prepare(Config(openai_base_url="http://127.0.0.1:9/v1", openai_api_key="sk-a"))
    assert thread is not None and thread.daemon
    thread.join(timeout=60)
    assert not thread.is_alive()
    # No vocabulary: a call counts its prompt by an upper bound, the server reports its usage.
    assert token_counter._load_encoding.cache_info().currsize == 0
