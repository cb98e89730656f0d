"""Two debaters as plain classes in a SoftwareCompany, as in MetaGPT 0.4-0.5's debate example."""

import asyncio

from metagpt.actions import Action, BossRequirement
from metagpt.logs import logger
from metagpt.roles import Role
from metagpt.schema import Message
from metagpt.software_company import SoftwareCompany


class ShoutOut(Action):
    PROMPT_TEMPLATE = """
    Suppose you are {name}, you are in a debate with {opponent_name}.
    Previous rounds:
    {context}
    Now it's your turn, answer in 80 words:
    """

    def __init__(self, name="ShoutOut", context=None, llm=None):
        super().__init__(name, context, llm)

    async def run(self, context: str, name: str, opponent_name: str):
        prompt = self.PROMPT_TEMPLATE.format(context=context, name=name, opponent_name=opponent_name)
        return await self._aask(prompt)


class Debater(Role):
    def __init__(self, name: str, profile: str, opponent: str, starts: bool = False, **kwargs):
        super().__init__(name, profile, **kwargs)
        self._init_actions([ShoutOut])
        self._watch([BossRequirement, ShoutOut] if starts else [ShoutOut])
        self.opponent_name = opponent

    async def _observe(self) -> int:
        await super()._observe()
        self._rc.news = [m for m in self._rc.news if m.cause_by == BossRequirement or m.send_to == {self.name}]
        return len(self._rc.news)

    async def _act(self) -> Message:
        logger.info(f"{self._setting}: ready to {self._rc.todo}")
        history = self._rc.memory.get_by_actions([BossRequirement, ShoutOut])
        context = "\n".join(str(m) for m in history)
        rsp = await ShoutOut().run(context=context, name=self.name, opponent_name=self.opponent_name)
        return Message(
            content=rsp, role=self.profile, cause_by=ShoutOut, sent_from=self.name, send_to=self.opponent_name
        )


async def startup(idea: str, investment: float = 3.0, n_round: int = 5):
    company = SoftwareCompany()
    company.hire([Debater("Biden", "Democrat", "Trump", starts=True), Debater("Trump", "Republican", "Biden")])
    company.invest(investment)
    company.start_project(idea)
    history = await company.run(n_round=n_round)
    for message in history:
        print(f"MSG {message.sent_from} -> {sorted(message.send_to)}: {message.content.strip()[:60]}")
    print(f"COST {company.cost_manager.total_cost:.6f}")


if __name__ == "__main__":
    asyncio.run(startup("Topic: climate change.", n_round=4))
