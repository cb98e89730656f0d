"""Coder, tester and reviewer in a Team, as in MetaGPT 0.6-0.8's "multi-agent" tutorial."""

import asyncio
import re
import sys

from metagpt.actions import Action, UserRequirement
from metagpt.logs import logger
from metagpt.roles import Role
from metagpt.schema import Message
from metagpt.team import Team


def parse_code(rsp):
    match = re.search(r"```python(.*)```", rsp, re.DOTALL)
    return match.group(1) if match else rsp


class SimpleWriteCode(Action):
    PROMPT_TEMPLATE: str = """
    Write a python function that can {instruction}.
    Return ```python your_code_here ``` with NO other texts,
    your code:
    """
    name: str = "SimpleWriteCode"

    async def run(self, instruction: str):
        return parse_code(await self._aask(self.PROMPT_TEMPLATE.format(instruction=instruction)))


class SimpleWriteTest(Action):
    PROMPT_TEMPLATE: str = """
    Context: {context}
    Write {k} unit tests using pytest for the given function, assuming you have imported it.
    Return ```python your_code_here ``` with NO other texts,
    your code:
    """
    name: str = "SimpleWriteTest"

    async def run(self, context: str, k: int = 3):
        return parse_code(await self._aask(self.PROMPT_TEMPLATE.format(context=context, k=k)))


class SimpleWriteReview(Action):
    PROMPT_TEMPLATE: str = """
    Context: {context}
    Review the test cases and provide one critical comments:
    """
    name: str = "SimpleWriteReview"

    async def run(self, context: str):
        return await self._aask(self.PROMPT_TEMPLATE.format(context=context))


class SimpleCoder(Role):
    name: str = "Alice"
    profile: str = "SimpleCoder"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._watch([UserRequirement])
        self.set_actions([SimpleWriteCode])


class SimpleTester(Role):
    name: str = "Bob"
    profile: str = "SimpleTester"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.set_actions([SimpleWriteTest])
        self._watch([SimpleWriteCode, SimpleWriteReview])

    async def _act(self) -> Message:
        logger.info(f"{self._setting}: to do {self.rc.todo}({self.rc.todo.name})")
        todo = self.rc.todo
        context = self.get_memories()
        code_text = await todo.run(context, k=5)
        return Message(content=code_text, role=self.profile, cause_by=type(todo))


class SimpleReviewer(Role):
    name: str = "Charlie"
    profile: str = "SimpleReviewer"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.set_actions([SimpleWriteReview])
        self._watch([SimpleWriteTest])


async def main(
    idea="write a function that calculates the product of a list", investment=3.0, n_round=5, add_human=False
):
    team = Team()
    team.hire([SimpleCoder(), SimpleTester(), SimpleReviewer(is_human=add_human)])
    team.invest(investment=investment)
    team.run_project(idea)
    history = await team.run(n_round=n_round)
    for message in history:
        print(f"MSG {message.role} {str(message.cause_by).rsplit('.', 1)[-1]}: {message.content.strip()[:60]}")


if __name__ == "__main__":
    asyncio.run(main(add_human="--add-human" in sys.argv))
