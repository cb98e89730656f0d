"""Weak models and optional steps: repairs from earlier documents, retries that change, skipped reviews."""

from __future__ import annotations

import json
from typing import Any

import pytest
from loguru import logger

from metagpt.actions import SystemDesign, Tasks, WriteDesign, WriteTasks
from metagpt.actions.diagram_repair import ERROR_NOTE, check_diagrams
from metagpt.config import Config
from metagpt.context import Context
from metagpt.exceptions import ModelBehaviorError
from metagpt.llm import FIX_FORMAT, LLM, RETRY_TEMPERATURE_STEP
from metagpt.provider.base import ModelRequest
from metagpt.provider.fake import FakeProvider, sample_from_schema
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
from metagpt.schema import Message
from metagpt.software_company import SoftwareCompany
from tests.unit.test_llm_wrapper import VALID_PRD


@pytest.fixture
def warnings() -> list[str]:
    seen: list[str] = []
    handler = logger.add(lambda message: seen.append(message.record["message"]), level="WARNING")
    yield seen
    logger.remove(handler)


def make_llm(provider: FakeProvider, **settings: Any) -> LLM:
    return LLM(Context(Config(api_type="fake", **settings), provider=provider), role="Tester")


# -- a format retry that got the same answer changes something ---------------------------------


async def test_a_repeated_invalid_answer_is_asked_again_hotter_and_without_the_repeated_answer(warnings):
    from metagpt.actions import PRD

    provider = FakeProvider(["{}", "{}", json.dumps(VALID_PRD)])

    prd = await make_llm(provider, temperature=0.0).aask_model("Write the PRD", PRD)

    assert prd == PRD.model_validate(VALID_PRD)
    first, second, third = provider.calls
    assert [c.temperature for c in provider.calls] == [0.0, 0.0, RETRY_TEMPERATURE_STEP]
    assert second.messages[2:] == [
        {"role": "assistant", "content": "{}"},
        {"role": "user", "content": second.messages[3]["content"]},
    ]
    # the third starts afresh: the first prompt with a short note, not the repeated answer twice
    assert len(third.messages) == len(first.messages)
    assert third.messages[0] == first.messages[0]
    assert third.messages[-1]["content"].startswith(first.messages[-1]["content"])
    assert "An earlier answer was invalid: original_requirements: Field required" in third.messages[-1]["content"]
    assert third.messages[-1]["content"].endswith(FIX_FORMAT)
    assert "{}" not in [m["content"] for m in third.messages]
    assert any("the same invalid answer again; asking afresh at temperature 0.4" in w for w in warnings)
    provider.assert_complete()


async def test_each_repeat_is_sent_hotter_up_to_one(warnings):
    from metagpt.actions import PRD

    provider = FakeProvider(["nope"] * 5)

    with pytest.raises(ModelBehaviorError, match="after 5 attempts"):
        await make_llm(provider, temperature=0.5, max_format_retries=4).aask_model("Write the PRD", PRD)

    assert [round(c.temperature, 2) for c in provider.calls] == [0.5, 0.5, 0.9, 1.0, 1.0]
    afresh = [w for w in warnings if "asking afresh" in w]
    assert len(afresh) == 3  # before the 3rd, 4th and 5th attempts; none after the last one failed
    assert warnings[-1].startswith("Tester: invalid PRD (5/5)")


async def test_different_invalid_answers_keep_the_conversation_and_the_temperature():
    from metagpt.actions import PRD

    provider = FakeProvider(["nope", "{}", json.dumps(VALID_PRD)])

    await make_llm(provider).aask_model("Write the PRD", PRD)

    assert [c.temperature for c in provider.calls] == [0.0, 0.0, 0.0]
    assert [len(c.messages) for c in provider.calls] == [2, 4, 6]


# -- a validation failure an earlier document can repair ----------------------------------------


def design() -> SystemDesign:
    schema = SystemDesign.model_json_schema()
    data = sample_from_schema(schema, schema.get("$defs", {}))
    return SystemDesign.model_validate({**data, "file_list": ["main.py", "game.py", "snake.py"]})


def tasks_answer(**changes: Any) -> str:
    schema = Tasks.model_json_schema()
    return json.dumps({**sample_from_schema(schema, schema.get("$defs", {})), **changes})


@pytest.mark.parametrize("task_list", [[], [""], ["./", " "]])
async def test_a_task_list_naming_no_file_takes_the_designs_file_list(task_list, warnings):
    provider = FakeProvider([tasks_answer(task_list=task_list)])
    action = WriteTasks(llm=make_llm(provider))
    messages = [Message(design().to_markdown(), instruct_content=design(), cause_by=WriteDesign)]

    tasks = await action.run(messages)

    assert tasks.task_list == ["main.py", "game.py", "snake.py"]
    assert len(provider.calls) == 1  # repaired, not asked again
    assert any("The task list names no file; using the design's file list" in w for w in warnings)


async def test_a_missing_task_list_is_repaired_too_but_only_with_a_design():
    answer = json.loads(tasks_answer())
    del answer["task_list"]
    provider = FakeProvider([json.dumps(answer)])
    messages = [Message(design().to_markdown(), instruct_content=design(), cause_by=WriteDesign)]
    assert (await WriteTasks(llm=make_llm(provider)).run(messages)).task_list == ["main.py", "game.py", "snake.py"]

    provider = FakeProvider([json.dumps(answer)])
    with pytest.raises(ModelBehaviorError):  # plain text: no design to repair from
        await WriteTasks(llm=make_llm(provider, max_format_retries=0)).run(design().to_markdown())


async def test_a_task_list_that_names_files_is_kept():
    provider = FakeProvider([tasks_answer(task_list=["snake.py", "main.py"])])
    messages = [Message(design().to_markdown(), instruct_content=design(), cause_by=WriteDesign)]

    assert (await WriteTasks(llm=make_llm(provider)).run(messages)).task_list == ["snake.py", "main.py"]


# -- optional steps degrade -------------------------------------------------------------------------


def weak_reviewer(request: ModelRequest) -> str:
    """Valid documents and code; a review verdict that is never valid."""
    if request.output_schema is None:
        return "```python\ndef main() -> None:\n    print('hi')\n```"
    if request.output_schema.name == "ReviewVerdict":
        return '{"verdict": "maybe"}'
    schema = request.output_schema.json_schema
    return json.dumps(sample_from_schema(schema, schema.get("$defs", {})))


async def test_a_review_that_never_validates_is_recorded_as_skipped_and_the_run_goes_on(tmp_path, warnings):
    config = Config(api_type="fake", workspace_path=tmp_path / "ws", max_format_retries=1)
    provider = FakeProvider([weak_reviewer] * 20)
    team = SoftwareCompany(context=Context(config, provider=provider))
    team.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
    team.start_project("a snake game")

    await team.run(n_round=6)

    root = team.project.path
    review = (root / "docs/code_review.md").read_text()
    files = ["snake.py", "game.py", "main.py"]
    for name in files:
        assert f"- `{name}`, round 1: **skipped**: The model did not return a valid ReviewVerdict" in review
        assert (root / "cli_snake_game" / name).read_text().startswith("def main()")
    assert "LGTM" not in review and "LBTM" not in review
    summary = team.env.history.get()[-1]
    assert summary.content.endswith("Review skipped for: snake.py, game.py, main.py")
    assert sum(1 for c in provider.calls if c.output_schema and c.output_schema.name == "ReviewVerdict") == 6
    assert any("review of game.py skipped" in w for w in warnings)


async def test_a_diagram_repair_whose_answer_stays_invalid_is_noted_as_skipped(fake_config, monkeypatch):
    class Renderer:
        active = True

        async def validate(self, code: str) -> str | None:
            return "Parse error on line 2"

    async def invalid(*args, **kwargs):
        raise ModelBehaviorError("The model's answer could not be used.")

    llm = LLM(Context(fake_config, provider=FakeProvider([])), role="Architect")
    monkeypatch.setattr(type(llm.context), "diagrams", property(lambda self: Renderer()))
    monkeypatch.setattr(llm, "aask", invalid)

    checked = await check_diagrams(design(), llm)

    for field in ("data_structures_and_interfaces", "program_call_flow"):
        text = getattr(checked, field)
        note = "%% Parse error on line 2\n%% repair skipped: The model's answer could not be used."
        assert f"{ERROR_NOTE}\n{note}" in text
