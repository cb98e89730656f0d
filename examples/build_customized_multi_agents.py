"""A team of your own: a coder, a tester and a reviewer passing work along by message.

The coder answers the user's requirement, the tester watches the code (and the reviews), the
reviewer watches the tests. With `--add-human` you play the reviewer at the terminal.

    python examples/build_customized_multi_agents.py "write a function that calculates the product of a list"
"""

import asyncio
from typing import Annotated

import typer

from metagpt.actions import Action, UserRequirement
from metagpt.exceptions import MetaGPTError
from metagpt.logs import logger
from metagpt.roles import Role
from metagpt.schema import Message
from metagpt.team import Team
from metagpt.utils.common import CodeParser


class SimpleWriteCode(Action):
    name: str = "SimpleWriteCode"
    PROMPT_TEMPLATE: str = (
        "Write a python function that can {instruction}.\nReturn ```python your_code_here ``` with NO other texts."
    )

    async def run(self, instruction: str) -> str:
        return CodeParser.parse_code(text=await self._aask(self.PROMPT_TEMPLATE.format(instruction=instruction)))


class SimpleWriteTest(Action):
    name: str = "SimpleWriteTest"
    PROMPT_TEMPLATE: str = (
        "Context: {context}\nWrite {k} unit tests using pytest for the given function, assuming you have "
        "imported it.\nReturn ```python your_code_here ``` with NO other texts."
    )

    async def run(self, context: str, k: int = 3) -> str:
        return CodeParser.parse_code(text=await self._aask(self.PROMPT_TEMPLATE.format(context=context, k=k)))


class SimpleWriteReview(Action):
    name: str = "SimpleWriteReview"
    PROMPT_TEMPLATE: str = "Context: {context}\nReview the test cases and give one critical comment:"

    async def run(self, context: str) -> str:
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
        todo = self.rc.todo
        logger.info(f"{self._setting}: to do {todo}")
        context = "\n\n".join(f"{m.role}: {m.content}" for m in self.get_memories())  # all it has heard
        tests = await todo.run(context, k=3)
        return Message(content=tests, role=self.profile, cause_by=type(todo))


class SimpleReviewer(Role):
    name: str = "Charlie"
    profile: str = "SimpleReviewer"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.set_actions([SimpleWriteReview])
        self._watch([SimpleWriteTest])


def main(
    idea: Annotated[str, typer.Argument()] = "write a function that calculates the product of a list",
    investment: float = 3.0,
    n_round: int = 5,
    add_human: Annotated[bool, typer.Option(help="Play the reviewer yourself, at the terminal.")] = False,
) -> None:
    team = Team()
    team.hire([SimpleCoder(), SimpleTester(), SimpleReviewer(is_human=add_human)])
    team.invest(investment=investment)
    team.run_project(idea)
    try:
        history = asyncio.run(team.run(n_round=n_round))
    except MetaGPTError as exc:  # e.g. the budget ran out: one line, no traceback
        raise SystemExit(f"Error: {exc}") from None
    for message in history:
        typer.echo(f"--- {message.role} ({message.cause_by.rsplit('.', 1)[-1]})\n{message.content.strip()}")
    typer.echo(team.cost_manager.summary())


if __name__ == "__main__":
    typer.run(main)
