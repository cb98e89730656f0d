"""A single coding agent in the plain-class style of MetaGPT 0.3-0.5's "customized agent" tutorial."""

import asyncio
import re

from metagpt.actions import Action
from metagpt.llm import LLM
from metagpt.logs import logger
from metagpt.roles import Role
from metagpt.schema import Message


class SimpleWriteCode(Action):
    PROMPT_TEMPLATE = """
    Write a python function that can {instruction} and provide two runnable test cases.
    Return ```python your_code_here ``` with NO other texts,
    your code:
    """

    def __init__(self, name="SimpleWriteCode", context=None, llm=None):
        super().__init__(name, context, llm)

    async def run(self, instruction: str):
        prompt = self.PROMPT_TEMPLATE.format(instruction=instruction)
        rsp = await self._aask(prompt)
        match = re.search(r"```python(.*)```", rsp, re.DOTALL)
        return match.group(1) if match else rsp


class SimpleCheck(Action):
    def __init__(self, name="SimpleCheck", context=None, llm=None):
        super().__init__(name, context, llm)

    async def run(self, code: str):
        return await self._aask(f"Check this code and answer LGTM or a fix:\n{code}")


class SimpleCoder(Role):
    def __init__(self, name="Alice", profile="SimpleCoder", **kwargs):
        super().__init__(name, profile, **kwargs)
        self._init_actions([SimpleWriteCode, SimpleCheck])

    async def _think(self) -> None:
        if self._rc.todo is None:
            self._set_state(0)
            return
        if self._rc.state + 1 < len(self._states):
            self._set_state(self._rc.state + 1)
        else:
            self._rc.todo = None

    async def _act(self) -> Message:
        logger.info(f"{self._setting}: ready to {self._rc.todo}")
        todo = self._rc.todo
        msg = self._rc.memory.get()[-1]
        result = await todo.run(msg.content)
        msg = Message(content=result, role=self.profile, cause_by=type(todo))
        self._rc.memory.add(msg)
        return msg

    async def _react(self) -> Message:
        while True:
            await self._think()
            if self._rc.todo is None:
                break
            msg = await self._act()
        return msg


async def main():
    llm = LLM()
    logger.info(await llm.aask("hello world"))
    rsp = await llm.acompletion([{"role": "user", "content": "count from 1 to 3"}])
    print(f"COMPLETION {rsp.choices[0].message.content}")
    print(
        f"BATCH {await llm.acompletion_batch_text([[{'role': 'user', 'content': 'a'}], [{'role': 'user', 'content': 'b'}]])}"
    )
    role = SimpleCoder()
    result = await role.run("write a function that adds two numbers")
    print(
        f"RESULT {role._setting} {[str(m.cause_by).rsplit('.', 1)[-1] for m in role.get_memories()]}: {result.content}"
    )


if __name__ == "__main__":
    asyncio.run(main())
