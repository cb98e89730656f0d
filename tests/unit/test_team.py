"""Team: hire, invest, run a project to some or all roles, stop when idle or out of money."""

from __future__ import annotations

import pytest

from metagpt.actions import Action, UserRequirement
from metagpt.context import Context
from metagpt.exceptions import NoMoneyException, UserError
from metagpt.provider.fake import FakeProvider
from metagpt.roles import Role
from metagpt.schema import Message
from metagpt.software_company import SoftwareCompany
from metagpt.team import Team


class Say(Action):
    async def run(self, history: list[Message]) -> str:
        return await self._aask(history[-1].content)


class Speaker(Role):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.set_actions([Say])
        self._watch([UserRequirement, Say])


def team(fake_config, answers: list[str], *names: str) -> tuple[Team, FakeProvider]:
    provider = FakeProvider(answers)
    result = Team(context=Context(fake_config, provider=provider))
    result.hire([Speaker(name=name) for name in names])
    return result, provider


async def test_run_project_to_one_role_and_run_rounds(fake_config):
    company, provider = team(fake_config, ["hello B", "hello A", "again B"], "A", "B")
    company.invest(1.0)
    company.run_project("start", send_to="A")

    history = await company.run(n_round=3)

    assert [(m.sent_from, m.content) for m in history] == [
        ("Human", "start"),
        ("A", "hello B"),
        ("B", "hello A"),  # each speaks in turn: its own message is no news to itself
        ("A", "again B"),
    ]
    provider.assert_complete()
    assert company.idea == "start"


async def test_run_stops_early_when_every_role_is_idle(fake_config):
    class Once(Role):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.set_actions([Say])

    provider = FakeProvider(["done"])
    company = Team(context=Context(fake_config, provider=provider), roles=[Once()])

    history = await company.run(n_round=10, idea="do it once")

    assert [m.content for m in history] == ["do it once", "done"]
    assert company.env.is_idle


async def test_spent_budget_stops_before_the_next_round(fake_config):
    company, provider = team(fake_config, ["a"], "A")
    company.invest(0.5)
    company.cost_manager.total.cost = 0.5

    with pytest.raises(NoMoneyException, match=r"Budget exhausted: spent \$0.5000 of \$0.5000"):
        await company.run(n_round=3, idea="go")

    assert provider.calls == []


@pytest.mark.parametrize(("value", "expected"), [(3, 3.0), ("$2.5", 2.5), ("0.1", 0.1)])
def test_invest_sets_the_budget(fake_config, value, expected):
    company, _ = team(fake_config, [], "A")

    company.invest(value)

    assert company.investment == company.cost_manager.max_budget == expected


@pytest.mark.parametrize("value", ["lots", 0, -1])
def test_invest_rejects_what_is_not_a_positive_amount(fake_config, value):
    company, _ = team(fake_config, [], "A")

    with pytest.raises(UserError, match="Investment"):
        company.invest(value)


def test_two_teams_never_share_a_budget(fake_config):
    first, _ = team(fake_config, [], "A")
    second, _ = team(fake_config, [], "A")

    first.invest(1.0)
    second.invest(2.0)

    assert (first.cost_manager.max_budget, second.cost_manager.max_budget) == (1.0, 2.0)
    assert first.cost_manager is not second.cost_manager


def test_start_project_is_a_deprecated_alias(fake_config):
    company, _ = team(fake_config, [], "A")

    with pytest.warns(DeprecationWarning, match="run_project"):
        company.start_project("idea", send_to="A")

    assert company.env.roles["A"].rc.msg_buffer[0].send_to == {"A"}


def test_software_company_is_a_team_with_a_project_folder(fake_config, tmp_path):
    company = SoftwareCompany(fake_config)

    folder = company.start_project("a snake game")

    assert isinstance(company, Team)
    assert folder.parent == tmp_path / "workspace" and folder.is_dir()
    assert company.environment.history.get()[0].content == "a snake game"


async def test_team_takes_roles_investment_and_idea_as_keywords(fake_config):
    provider = FakeProvider(["hi"])
    company = Team(context=Context(fake_config, provider=provider), roles=[Speaker(name="A")], investment=2, idea="go")

    history = await company.run(n_round=1)

    assert company.investment == 2.0
    assert [m.content for m in history] == ["go", "hi"]
    with pytest.raises(TypeError):
        Team(context=Context(fake_config), invesment=2)  # a typo is an error, not ignored
