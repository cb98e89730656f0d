"""Team.serialize / Team.deserialize: a team saved mid-run goes on exactly as if never stopped."""

from __future__ import annotations

import json

import pytest

from metagpt.context import Context
from metagpt.exceptions import UserError
from metagpt.provider.fake import FakeProvider
from metagpt.team import Team
from tests.unit.test_team import Speaker

ANSWERS = ["hello B", "hello A", "again B", "again A"]


def speakers(fake_config, answers: list[str]) -> tuple[Team, FakeProvider]:
    provider = FakeProvider(answers)
    team = Team(context=Context(fake_config, provider=provider), investment=2.0)
    team.hire([Speaker(name="A", goal="greet"), Speaker(name="B", goal="greet")])
    return team, provider


def seen(history) -> list[tuple[str, str]]:
    return [(m.sent_from, m.content) for m in history]


async def test_a_saved_team_goes_on_like_one_never_stopped(fake_config, tmp_path):
    whole, _ = speakers(fake_config, ANSWERS)
    whole.run_project("start", send_to="A")
    expected = seen(await whole.run(n_round=4))

    first, _ = speakers(fake_config, ANSWERS[:2])
    first.run_project("start", send_to="A")
    await first.run(n_round=2)
    path = first.serialize(tmp_path / "team")
    spent = first.cost_manager.total.calls

    provider = FakeProvider(ANSWERS[2:])
    again = Team.deserialize(tmp_path / "team", context=Context(fake_config, provider=provider))

    assert path == tmp_path / "team" / "team.json"
    assert [role.goal for role in again.env.roles.values()] == ["greet", "greet"]
    assert again.investment == 2.0 and again.cost_manager.total.calls == spent == 2
    assert seen(await again.run(n_round=2)) == expected
    provider.assert_complete()
    assert again.cost_manager.total.calls == 4


async def test_structured_content_survives(fake_config, tmp_path):
    from metagpt.actions import PRD
    from metagpt.schema import Message
    from tests.e2e.openai_server import sample_document

    team, _ = speakers(fake_config, [])
    prd = PRD.model_validate(sample_document(PRD))
    team.env.publish_message(Message("the PRD", instruct_content=prd, send_to="nobody"))
    team.serialize(tmp_path)

    [message] = Team.deserialize(tmp_path, context=Context(fake_config)).env.history.get()
    assert message.instruct_content == prd
    assert message.send_to == {"nobody"}


def test_missing_or_foreign_state_is_one_clear_error(fake_config, tmp_path):
    with pytest.raises(UserError, match="No saved team at"):
        Team.deserialize(tmp_path)
    (tmp_path / "team.json").write_text(json.dumps({"version": 99}))
    with pytest.raises(UserError, match="another MetaGPT version"):
        Team.deserialize(tmp_path)
