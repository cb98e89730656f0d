"""OpenAI-compatible embeddings through the real `openai` SDK against a loopback `/v1/embeddings`."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from metagpt.config import Config
from metagpt.document_store import FaissStore
from metagpt.embeddings import create_embedding
from metagpt.embeddings.fake import FakeEmbedding
from metagpt.embeddings.openai_api import OpenAIEmbedding
from metagpt.exceptions import AuthenticationError, ConfigError, ForbiddenInTests
from tests.e2e.recorded_http import RecordedServer, Request

RECORDS = [
    {"source": "When does the shop open?", "output": "At nine on weekdays, ten on Saturdays."},
    {"source": "Where can I park?", "output": "In the garage behind the shop, free for two hours."},
]


def embeddings_route(request: Request) -> tuple[int, dict]:
    """Answer like OpenAI: vectors (here the fake embedding's) as floats or base64, with usage."""
    inputs = request.body["input"]
    inputs = [inputs] if isinstance(inputs, str) else inputs
    vectors = FakeEmbedding(dim=32).embed_documents(inputs) * 3.0  # unnormalised, as some servers send
    as_base64 = request.body.get("encoding_format") == "base64"
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode() if as_base64 else v.tolist(),
        }
        for i, v in reversed(list(enumerate(vectors)))  # out of order, to check the client sorts
    ]
    tokens = sum(len(t.split()) for t in inputs)
    return 200, {
        "object": "list",
        "data": data,
        "model": request.body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


@pytest.fixture
def server(allow_model_requests):
    with RecordedServer({("POST", "/v1/embeddings"): embeddings_route}) as running:
        yield running


def test_configured_openai_embeddings_reach_the_endpoint(server, tmp_path):
    faq = tmp_path / "faq.json"
    faq.write_text(json.dumps(RECORDS))
    config = Config(
        embedding_api_type="openai",
        embedding_model="text-embedding-3-small",
        embedding_base_url=f"{server.base_url}/v1",
        openai_api_key="sk-test",
    )

    store = FaissStore(faq, embedding=create_embedding(config))

    assert store.search("Where can I park my car?", k=1) == RECORDS[1]["output"]
    index_request, query_request = server.requests
    assert index_request.body["model"] == "text-embedding-3-small"
    assert index_request.body["input"] == [f"{r['source']}\n{r['output']}" for r in RECORDS]
    assert query_request.body["input"] == ["Where can I park my car?"]
    assert index_request.headers["authorization"] == "Bearer sk-test"


def test_vectors_come_back_in_input_order_and_normalised(server):
    embedding = OpenAIEmbedding(base_url=f"{server.base_url}/v1", api_key="sk-test")
    texts = ["gift cards", "parking garage", "opening hours"]

    vectors = embedding.embed_documents(texts)

    np.testing.assert_allclose(vectors, FakeEmbedding(dim=32).embed_documents(texts), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_a_refused_key_is_an_authentication_error(allow_model_requests):
    refuse = {
        ("POST", "/v1/embeddings"): lambda r: (401, {"error": {"message": "Incorrect API key provided: sk-bad."}})
    }
    with RecordedServer(refuse) as server:
        embedding = OpenAIEmbedding(base_url=f"{server.base_url}/v1", api_key="sk-bad", max_retries=0)
        with pytest.raises(AuthenticationError, match="refused the API key: Incorrect API key provided"):
            embedding.embed_query("hello")


def test_openai_embeddings_need_a_key_or_url(allow_model_requests):
    with pytest.raises(ConfigError, match="set EMBEDDING_API_KEY or OPENAI_API_KEY"):
        create_embedding(Config(embedding_api_type="openai"))


def test_real_embedding_requests_are_forbidden_in_tests():
    with pytest.raises(ForbiddenInTests):
        OpenAIEmbedding(api_key="sk-test")


def test_vectors_of_mixed_lengths_or_a_huge_error_are_one_short_provider_error(allow_model_requests):
    from metagpt.exceptions import ProviderError

    def ragged(request: Request) -> tuple[int, dict]:
        data = [{"object": "embedding", "index": i, "embedding": [1.0] * (i + 2)} for i in range(2)]
        return 200, {"object": "list", "data": data, "model": "m", "usage": {"prompt_tokens": 2, "total_tokens": 2}}

    def huge_error(request: Request) -> tuple[int, dict]:
        return 400, {"error": {"message": "bad input " + "x" * 1_000_000, "type": "invalid_request_error"}}

    with RecordedServer({("POST", "/v1/embeddings"): ragged}) as running:
        embedding = OpenAIEmbedding(model="m", api_key="sk-test", base_url=f"{running.base_url}/v1", max_retries=0)
        with pytest.raises(ProviderError, match=r"vectors of lengths \[2, 3\] for model m; expected one length"):
            embedding.embed_documents(["a", "b"])
    with RecordedServer({("POST", "/v1/embeddings"): huge_error}) as running:
        embedding = OpenAIEmbedding(model="m", api_key="sk-test", base_url=f"{running.base_url}/v1", max_retries=0)
        with pytest.raises(ProviderError) as info:
            embedding.embed_query("a")
    assert str(info.value).startswith("Embeddings request failed (400) for model m: bad input xxx")
    assert len(str(info.value)) < 300
