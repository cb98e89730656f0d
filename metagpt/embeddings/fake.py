"""A deterministic embedding that needs no model, for tests and dry runs (`API_TYPE: fake`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from metagpt.embeddings.base import Embedding, normalize

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its my of on or our the this "  # noqa: SIM905
    "to we what which who why with you your".split()
)


class FakeEmbedding(Embedding):
    """Hashed bag of words: texts sharing words get similar vectors, the same text the same one.

    Words are lower-cased, stop words dropped and a trailing plural `s` removed, so lexical
    overlap drives similarity. Every word hashes (with a stable hash, not Python's salted one)
    to one of `dim` buckets. Good enough to test retrieval end to end; not a semantic model.
    """

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.key = f"fake:{dim}"
        self.calls = 0
        """Number of texts embedded, so tests can check what was (not) re-embedded."""

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        return normalize(np.stack([self._vector(t) for t in texts])) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        self.calls += 1
        return normalize(self._vector(text))

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            if word in _STOPWORDS:
                continue
            if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
                word = word[:-1]
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            vector[int.from_bytes(digest, "little") % self.dim] += 1.0
        if not vector.any():
            vector[0] = 1.0
        return vector
