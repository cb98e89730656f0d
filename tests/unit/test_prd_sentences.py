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


def test_the_last_attempt_cuts_or_drops_bad_items_and_keeps_a_sentence():
    from metagpt.actions.sentences import salvage_sentence
    from metagpt.utils.structured import SALVAGE

    stories = ["As a player, I want to steer the snake with the arrow [x", '", 0.3, 0.6], ,"', "I can add a todo item"]
    last = {**TODO, SALVAGE: True}
    assert salvage_sentence(stories[0]) == "As a player, I want to steer the snake with the arrow"
    assert salvage_sentence(stories[1]) is None
    prd = PRD.model_validate({**EXAMPLE, "user_stories": stories}, context=last)
    assert prd.user_stories == ["As a player, I want to steer the snake with the arrow", "I can add a todo item"]
    with pytest.raises(ValidationError, match="no item of user_stories is a sentence"):
        PRD.model_validate({**EXAMPLE, "user_stories": [stories[1]]}, context=last)


async def test_a_prd_whose_stories_stay_fragments_is_salvaged_on_the_last_attempt(fake_config):
    import json

    from metagpt.actions import WritePRD
    from metagpt.context import Context
    from metagpt.llm import LLM
    from metagpt.provider.fake import FakeProvider

    story = "As a user, I want to tick items off [x"
    answer = json.dumps({**EXAMPLE, "original_requirements": "a todo list app", "user_stories": [story]})
    attempts = fake_config.max_format_retries + 1
    provider = FakeProvider([answer] * attempts)  # the same fragment every time, as a small model does
    action = WritePRD()
    action.set_llm(LLM(Context(fake_config, provider=provider), role="Product Manager"))
    prd = await action.run("a command-line todo list app")
    assert prd.user_stories == ["As a user, I want to tick items off"]
    assert len(provider.calls) == attempts
    provider.assert_complete()
