"""Two debaters take turns, each answering the other: messages addressed by name (`send_to`).

python examples/debate.py "Topic: climate change. Under 80 words per message." --n-round 4
"""

import asyncio
from typing import Annotated, Any

import typer

from metagpt.actions import Action, UserRequirement
from metagpt.logs import logger
from metagpt.roles import Role
from metagpt.schema import Message
from metagpt.team import Team


class SpeakAloud(Action):
    name: str = "SpeakAloud"
    PROMPT_TEMPLATE: str = (
        "## BACKGROUND\nSuppose you are {name}, in a debate with {opponent_name}.\n"
        "## DEBATE HISTORY\nPrevious rounds:\n{context}\n"
        "## YOUR TURN\nRespond to your opponent's latest argument, state your position, defend your "
        "arguments and attack your opponent's, in under 80 words, in {name}'s rhetoric:"
    )

    async def run(self, context: str, name: str, opponent_name: str) -> str:
        return await self._aask(self.PROMPT_TEMPLATE.format(context=context, name=name, opponent_name=opponent_name))


class Debator(Role):
    name: str = ""
    profile: str = ""
    opponent_name: str = ""

    def __init__(self, **data: Any):
        super().__init__(**data)
        self.set_actions([SpeakAloud])
        self._watch([UserRequirement, SpeakAloud])

    async def _observe(self) -> int:
        await super()._observe()
        # Only what is addressed to me: the topic (for the first speaker) and my opponent's turns.
        self.rc.news = [msg for msg in self.rc.news if msg.send_to == {self.name}]
        return len(self.rc.news)

    async def _act(self) -> Message:
        todo = self.rc.todo
        logger.info(f"{self._setting}: to do {todo}")
        context = "\n".join(f"{msg.sent_from}: {msg.content}" for msg in self.get_memories())
        answer = await todo.run(context=context, name=self.name, opponent_name=self.opponent_name)
        message = Message(
            content=answer, role=self.profile, cause_by=type(todo), sent_from=self.name, send_to=self.opponent_name
        )
        self.rc.memory.add(message)
        return message


def main(
    idea: Annotated[str, typer.Argument()] = "Topic: climate change. Under 80 words per message.",
    investment: float = 3.0,
    n_round: int = 5,
) -> None:
    team = Team()
    team.hire(
        [
            Debator(name="Biden", profile="Democrat", opponent_name="Trump"),
            Debator(name="Trump", profile="Republican", opponent_name="Biden"),
        ]
    )
    team.invest(investment)
    team.run_project(idea, send_to="Biden")  # Biden speaks first
    history = asyncio.run(team.run(n_round=n_round))
    for message in history:
        typer.echo(f"--- {message.sent_from} -> {', '.join(sorted(message.send_to))}\n{message.content.strip()}")
    typer.echo(team.cost_manager.summary())


if __name__ == "__main__":
    typer.run(main)
