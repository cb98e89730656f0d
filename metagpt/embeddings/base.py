"""The one interface every embedding backend implements."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np


class Embedding(abc.ABC):
    """Turns texts into L2-normalised float32 vectors, so a dot product is a cosine similarity.

    Retrieval models are often trained with different treatment of the two sides of a search
    (e5 prefixes `query: ` and `passage: `), so documents and queries have separate methods.
    """

    key: str
    """Identifies the model and its settings; an index built with another key is rebuilt."""

    @abc.abstractmethod
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of the passages to index, shape `(len(texts), dim)`."""

    @abc.abstractmethod
    def embed_query(self, text: str) -> np.ndarray:
        """Vector of one search query, shape `(dim,)`."""


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms == 0, 1, norms), dtype=np.float32)
