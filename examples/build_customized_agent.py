"""A single agent of your own: it writes a Python function, then runs it.

`SimpleCoder` has one action, `SimpleWriteCode`, which asks the model for code. `RunnableCoder`
adds `SimpleRunCode`, which runs that code in a subprocess and returns its output; its two actions
run in order (`by_order`). MetaGPT's agent-creator example shows this file to the model as its
example of an agent (`METAGPT_ROOT / "examples/build_customized_agent.py"`).

    python examples/build_customized_agent.py "write a function that calculates the product of a list"
"""

import asyncio
import subprocess
import sys
import tempfile
from typing import Annotated

import typer

from metagpt.actions import Action
from metagpt.logs import logger
from metagpt.roles.role import Role, RoleReactMode
from metagpt.schema import Message
from metagpt.utils.common import CodeParser


class SimpleWriteCode(Action):
    name: str = "SimpleWriteCode"
    PROMPT_TEMPLATE: str = (
        "Write a python function that can {instruction}, and code that calls it and prints the result.\n"
        "Return ```python your_code_here ``` with NO other texts."
    )

    async def run(self, instruction: str) -> str:
        return CodeParser.parse_code(text=await self._aask(self.PROMPT_TEMPLATE.format(instruction=instruction)))


class SimpleRunCode(Action):
    name: str = "SimpleRunCode"

    async def run(self, code: str) -> str:
        # Model-written code: run it apart, in a scratch folder, with a time limit.
        with tempfile.TemporaryDirectory() as scratch:
            try:
                done = subprocess.run(
                    [sys.executable, "-c", code], cwd=scratch, capture_output=True, text=True, timeout=20
                )
            except subprocess.TimeoutExpired:
                return "The code did not finish within 20 seconds."
        return done.stdout + (f"\n{done.stderr}" if done.returncode else "")


class SimpleCoder(Role):
    name: str = "Alice"
    profile: str = "SimpleCoder"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.set_actions([SimpleWriteCode])

    async def _act(self) -> Message:
        todo = self.rc.todo
        logger.info(f"{self._setting}: to do {todo}")
        instruction = self.get_memories(k=1)[0]
        code = await todo.run(instruction.content)
        return Message(content=code, role=self.profile, cause_by=type(todo))


class RunnableCoder(Role):
    name: str = "Alice"
    profile: str = "RunnableCoder"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.set_actions([SimpleWriteCode, SimpleRunCode])
        self._set_react_mode(react_mode=RoleReactMode.BY_ORDER.value)

    async def _act(self) -> Message:
        todo = self.rc.todo
        logger.info(f"{self._setting}: to do {todo}")
        latest = self.get_memories(k=1)[0]  # the instruction, then the code written from it
        result = await todo.run(latest.content)
        message = Message(content=result, role=self.profile, cause_by=type(todo))
        self.rc.memory.add(message)
        return message


def main(
    instruction: Annotated[str, typer.Argument()] = "write a function that calculates the product of a list",
) -> None:
    role = RunnableCoder()
    result = asyncio.run(role.run(instruction))
    for message in role.get_memories():
        typer.echo(f"--- {message.cause_by.rsplit('.', 1)[-1]}\n{message.content.strip()}")
    typer.echo(f"=== output of the code:\n{result.content.strip()}")
    typer.echo(role.llm.cost_manager.summary())


if __name__ == "__main__":
    typer.run(main)
