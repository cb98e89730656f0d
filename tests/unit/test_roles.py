"""Role: system prompt, by-order and react loops, documents saved and published."""

from __future__ import annotations

import pytest

from metagpt.actions import PRD, Action, UserRequirement, WritePRD
from metagpt.context import Context
from metagpt.environment import Environment
from metagpt.project_repo import ProjectRepo
from metagpt.provider.fake import FakeProvider
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager, Role
from metagpt.schema import Message, any_to_str


class Research(Action):
    async def run(self, history: list[Message]) -> str:
        return f"research on {history[-1].content}"


class Summarise(Action):
    async def run(self, history: list[Message]) -> str:
        return f"summary of {history[-1].content}"


class Analyst(Role):
    name: str = "Ann"
    profile: str = "Analyst"
    goal: str = "Find the facts"
    constraints: str = "Cite sources"

    def __init__(self, react_mode: str = "by_order", max_react_loop: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.set_actions([Research, Summarise])
        self._set_react_mode(react_mode, max_react_loop=max_react_loop)


def context(fake_config, responses=None) -> Context:
    return Context(fake_config, provider=FakeProvider(responses))


@pytest.mark.parametrize("role_class", [Analyst, ProductManager, Architect, ProjectManager, Engineer])
def test_system_prompt_names_the_role(role_class):
    role = role_class()

    prompt = role.system_prompt

    for part in (role.profile, role.name, role.goal, role.constraints):
        assert part and part in prompt
    assert "{" not in prompt


def test_constructor_arguments_override_class_defaults():
    role = Analyst(name="Zed", profile="Critic", goal="Doubt", constraints="")

    assert (role.name, role.profile, role.goal, role.constraints) == ("Zed", "Critic", "Doubt", "")
    assert "Constraints: none" in role.system_prompt


def test_bare_role_defaults_to_class_name():
    role = Role()

    assert (role.name, role.profile) == ("Role", "Role")
    assert role.actions == []


async def test_by_order_runs_every_action_in_turn_and_publishes_the_last(fake_config):
    provider = FakeProvider([])
    role = Analyst(context=Context(fake_config, provider=provider))
    env = Environment()
    env.add_role(role)

    result = await role.run("tides")

    assert result is not None and result.content == "summary of research on tides"
    assert [(m.content, m.cause_by, m.role, m.sent_from) for m in env.history.get()] == [
        ("summary of research on tides", any_to_str(Summarise), "Analyst", "Ann"),
    ]
    assert [m.content for m in role.get_memories()] == ["tides", "research on tides", "summary of research on tides"]
    assert provider.calls == []  # by_order never asks the model which action to take
    assert role.is_idle and role.rc.todo is None and role.rc.state == -1


async def test_react_mode_lets_the_model_choose_actions_by_number(fake_config):
    provider = FakeProvider(["1", "-1"])
    role = Analyst(context=Context(fake_config, provider=provider), react_mode="react", max_react_loop=3)
    env = Environment()
    env.add_role(role)

    result = await role.run("tides")

    assert result is not None
    assert (result.content, result.cause_by) == ("summary of tides", any_to_str(Summarise))
    assert [m.content for m in env.history.get()] == ["summary of tides"]
    provider.assert_complete()
    first, second = (c.messages for c in provider.calls)
    assert first[0] == {"role": "system", "content": role.system_prompt}
    assert "Analyst" in first[0]["content"] and "Find the facts" in first[0]["content"]
    assert "0. Research\n1. Summarise" in first[1]["content"]
    assert "user: tides" in first[1]["content"]
    assert "Analyst: summary of tides" in second[1]["content"]  # the history grows with each step
    assert "The previous action was number 1" in second[1]["content"]


@pytest.mark.parametrize("answer", ["Action 0", "0.", " 0\n"])
async def test_react_mode_reads_the_number_out_of_a_chatty_answer(fake_config, answer):
    provider = FakeProvider([answer, "-1"])
    role = Analyst(context=Context(fake_config, provider=provider), react_mode="react", max_react_loop=3)

    result = await role.run("tides")

    assert result is not None and result.content == "research on tides"
    provider.assert_complete()


@pytest.mark.parametrize("answer", ["-1", "7", "none"])
async def test_react_mode_stops_on_minus_one_or_an_invalid_choice(fake_config, answer):
    provider = FakeProvider([answer])
    role = Analyst(context=Context(fake_config, provider=provider), react_mode="react", max_react_loop=3)

    result = await role.run("tides")

    assert result is not None and result.content == "No actions taken yet"
    provider.assert_complete()
    assert role.is_idle


async def test_react_mode_stops_after_max_react_loop(fake_config):
    provider = FakeProvider(["0", "0", "1", "0"])
    role = Analyst(context=Context(fake_config, provider=provider), react_mode="react", max_react_loop=3)

    result = await role.run("tides")

    assert result is not None and result.content == "summary of research on research on tides"
    assert len(provider.calls) == 3
    assert provider.responses == ["0"]  # the fourth answer was never asked for


async def test_role_without_news_is_idle_and_does_nothing(fake_config):
    provider = FakeProvider([])
    role = Analyst(context=Context(fake_config, provider=provider))

    assert await role.run() is None
    assert role.get_memories() == []


async def test_role_only_reacts_to_watched_messages(fake_config):
    role = Analyst(context=context(fake_config, []))
    role.put_message(Message(content="not for me", cause_by=any_to_str(WritePRD)))
    role.put_message(Message(content="for me", cause_by=any_to_str(UserRequirement)))

    result = await role.run()

    assert result is not None and result.content == "summary of research on for me"
    assert [m.content for m in role.rc.news] == ["for me"]
    assert role.rc.msg_buffer == []


async def test_document_action_is_saved_and_published_as_markdown(fake_config, tmp_path):
    ctx = Context(fake_config, provider=FakeProvider())
    ctx.project = ProjectRepo(tmp_path / "ws", "snake", fixed=True)
    role = ProductManager(context=ctx)
    env = Environment()
    env.add_role(role)

    result = await role.run(Message(content="a snake game", cause_by=any_to_str(UserRequirement)))

    assert result is not None
    assert isinstance(result.instruct_content, PRD)
    assert result.content == result.instruct_content.to_markdown()
    assert result.cause_by == any_to_str(WritePRD)
    docs = ctx.project.path / "docs"
    assert (docs / "prd.md").read_text() == result.content
    assert PRD.model_validate_json((docs / "prd.json").read_text()) == result.instruct_content
    assert env.history.get() == [result]
    assert ctx.cost_manager.by_role["Product Manager"].calls == 1


def test_engineer_drops_a_repeated_package_prefix_from_file_names():
    from metagpt.roles.engineer import code_path

    assert code_path("snake/game.py", "snake") == "game.py"
    assert code_path("game.py", "snake") == "game.py"
    assert code_path("snake_game/game.py", "snake") == "snake_game/game.py"
    assert code_path("snake/", "snake") == "snake/"
