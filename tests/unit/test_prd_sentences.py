"""A PRD being written refuses goals and stories that are not sentences, and keeps the boss's requirement."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from metagpt.actions import PRD
from metagpt.actions.sentences import sentence_problem, shares_topic
from metagpt.actions.write_prd import idea_reminder

EXAMPLE = {name: field.examples[0] for name, field in PRD.model_fields.items()}
TODO = {"requirement": "a command-line todo list app"}


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ('[", 0.3, 0.6], ,"]', "it holds JSON punctuation"),
        ("Fun", "1 word, a sentence has at least 3"),
        (", , 0.3", "0 words, a sentence has at least 3"),
        ("Add, list and remove todo items", None),
    ],
)
def test_what_is_a_sentence(item, problem):
    assert sentence_problem(item) == problem


def test_fragments_are_refused_only_while_the_prd_is_written():
    data = {**EXAMPLE, "product_goals": ["Add todo items quickly", '", 0.3, 0.6], ,"']}
    with pytest.raises(ValidationError, match=r"is not a sentence .*write sentences about: a command-line todo"):
        PRD.model_validate(data, context=TODO)
    assert PRD.model_validate(data).product_goals[1] == '", 0.3, 0.6], ,"'  # a stored document still loads


def test_a_requirement_restated_about_another_product_is_replaced_by_the_boss_s():
    prd = PRD.model_validate({**EXAMPLE, "product_goals": ["Keep the todo list in a file"]}, context=TODO)
    assert prd.original_requirements == "a command-line todo list app"  # not "Write a command-line snake game."
    kept = PRD.model_validate(EXAMPLE, context={"requirement": "a snake game for the terminal"})
    assert kept.original_requirements == "Write a command-line snake game."
    assert shares_topic("Write a todo app", "a command-line todo list app")
    assert not shares_topic("Write a command-line snake game.", "a command-line todo list app")


async def test_the_prd_prompt_ends_with_the_idea(fake_config):
    from metagpt.actions import WritePRD
    from metagpt.context import Context
    from metagpt.llm import LLM
    from metagpt.provider.fake import FakeProvider

    provider = FakeProvider()
    action = WritePRD()
    action.set_llm(LLM(Context(fake_config, provider=provider), role="Product Manager"))
    await action.run("a command-line todo list app")
    prompt = provider.calls[0].messages[-1]["content"]
    assert prompt.endswith(idea_reminder("a command-line todo list app"))
    assert prompt.rindex("Example of the format") < prompt.rindex("todo list app")
