"""A human plays a role through the provider interface, from a terminal or a pipe; it never hangs."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from metagpt.actions import Action
from metagpt.context import Context
from metagpt.exceptions import HumanInputClosed, HumanStopped, UserError
from metagpt.llm import LLM
from metagpt.provider.fake import FakeProvider
from metagpt.provider.human import HumanProvider
from metagpt.roles import Role
from tests.terminal import answer_at_terminal


class Review(Action):
    async def run(self, history) -> str:
        return await self._aask(f"Review this: {history[-1].content}")


def human_llm(fake_config, stdin: str) -> tuple[LLM, io.StringIO]:
    out = io.StringIO()
    provider = HumanProvider("Charlie(Reviewer)", stdin=io.StringIO(stdin), stdout=out)
    return LLM(Context(fake_config, provider=FakeProvider([])), role="Reviewer", provider=provider), out


async def test_human_answers_what_the_model_would_be_asked(fake_config):
    llm, out = human_llm(fake_config, "Looks good to me\n")

    assert await llm.aask("Review this: def f(): pass") == "Looks good to me"

    assert "Review this: def f(): pass" in out.getvalue()
    assert "[Charlie(Reviewer)] your answer" in out.getvalue()
    assert llm.cost_manager.total_cost == 0
    assert llm.cost_manager.by_role["Reviewer"].calls == 1


@pytest.mark.parametrize("word", ["exit", "quit"])
async def test_exit_stops_the_run(fake_config, word):
    llm, _ = human_llm(fake_config, f"{word}\n")

    with pytest.raises(HumanStopped, match="ended the run"):
        await llm.aask("anything")


async def test_closed_input_is_a_clear_error(fake_config):
    llm, _ = human_llm(fake_config, "")

    with pytest.raises(UserError, match="standard input closed"):
        await llm.aask("anything")


async def test_piped_input_answers_like_a_terminal_and_the_role_llm_is_a_human_provider(fake_config, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("LGTM from the pipe\n"))
    role = Role(name="Charlie", profile="Reviewer", is_human=True, context=Context(fake_config))
    role.set_actions([Review])

    message = await role.run("def f(): pass")

    assert message is not None and message.content == "LGTM from the pipe"
    assert isinstance(role.llm, HumanProvider)  # as MetaGPT's human roles' llm is
    assert not isinstance(LLM(Context(fake_config)), HumanProvider)
    with pytest.raises(UserError, match=r"Charlie\(Reviewer\): standard input closed"):
        await role.run("def g(): pass")  # the pipe is exhausted: one clear line, no hang


SCRIPT = """
import asyncio
from metagpt.actions import Action
from metagpt.roles import Role
from tests.terminal import answer_at_terminal

class Review(Action):
    async def run(self, history):
        return await self._aask("Review: " + history[-1].content)

async def main():
    role = Role(name="Charlie", profile="Reviewer", is_human=True)
    role.set_actions([Review])
    print("RESULT", (await role.run("def f(): pass")).content, flush=True)

asyncio.run(main())
"""


def test_a_human_role_at_a_real_terminal(tmp_path):
    """The whole path through a pseudo-terminal: prompt shown, line typed, answer used."""
    script = tmp_path / "human.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "API_TYPE": "fake", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    code, text = answer_at_terminal([sys.executable, str(script)], env, tmp_path, b"LGTM, ship it\n", timeout=30)

    assert code == 0, text
    assert "Review: def f(): pass" in text
    assert "RESULT LGTM, ship it" in text


@pytest.mark.parametrize(("typed", "stop"), [("exit\n", HumanStopped), ("", HumanInputClosed)])
async def test_a_team_whose_human_leaves_ends_the_run_and_keeps_its_history(fake_config, monkeypatch, typed, stop):
    from metagpt.actions import UserRequirement
    from metagpt.team import Team

    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    reviewer = Role(name="Charlie", profile="Reviewer", is_human=True)
    reviewer.set_actions([Review])
    reviewer._watch([UserRequirement])
    team = Team(context=Context(fake_config))
    team.hire([reviewer])
    team.run_project("def f(): pass")

    history = await team.run(n_round=3)

    assert [m.content for m in history] == ["def f(): pass"]
    assert isinstance(team.stopped_by, stop)
