"""Two debaters taking turns, as in MetaGPT 0.6-0.8's "debate" tutorial."""

import asyncio
from typing import Any

from metagpt.actions import Action, UserRequirement
from metagpt.logs import logger
from metagpt.roles import Role
from metagpt.schema import Message
from metagpt.team import Team


class SpeakAloud(Action):
    PROMPT_TEMPLATE: str = """
    ## BACKGROUND
    Suppose you are {name}, you are in a debate with {opponent_name}.
    ## DEBATE HISTORY
    Previous rounds:
    {context}
    ## YOUR TURN
    Now it's your turn, respond to your opponent's latest argument in 80 words:
    """
    name: str = "SpeakAloud"

    async def run(self, context: str, name: str, opponent_name: str):
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
        self.rc.news = [msg for msg in self.rc.news if msg.send_to == {self.name}]
        return len(self.rc.news)

    async def _act(self) -> Message:
        logger.info(f"{self._setting}: to do {self.rc.todo}({self.rc.todo.name})")
        todo = self.rc.todo
        memories = self.get_memories()
        context = "\n".join(f"{msg.sent_from}: {msg.content}" for msg in memories)
        rsp = await todo.run(context=context, name=self.name, opponent_name=self.opponent_name)
        msg = Message(
            content=rsp, role=self.profile, cause_by=type(todo), sent_from=self.name, send_to=self.opponent_name
        )
        self.rc.memory.add(msg)
        return msg


async def debate(idea: str, investment: float = 3.0, n_round: int = 5):
    biden = Debator(name="Biden", profile="Democrat", opponent_name="Trump")
    trump = Debator(name="Trump", profile="Republican", opponent_name="Biden")
    team = Team()
    team.hire([biden, trump])
    team.invest(investment)
    team.run_project(idea, send_to="Biden")
    history = await team.run(n_round=n_round)
    for message in history:
        print(f"MSG {message.sent_from} -> {sorted(message.send_to)}: {message.content.strip()[:60]}")


if __name__ == "__main__":
    asyncio.run(debate("Topic: climate change. Under 80 words per message.", n_round=4))
