"""MetaGPT 0.4-0.7's agent-creator example: a role that writes a new agent, shown an example of one.

The example it shows the model is the framework's own `examples/build_customized_agent.py`.
"""

import asyncio
import re

from metagpt.actions import Action
from metagpt.config import CONFIG
from metagpt.const import METAGPT_ROOT
from metagpt.logs import logger
from metagpt.roles import Role
from metagpt.schema import Message

EXAMPLE_CODE_FILE = METAGPT_ROOT / "examples/build_customized_agent.py"
MULTI_ACTION_AGENT_CODE_EXAMPLE = EXAMPLE_CODE_FILE.read_text()


class CreateAgent(Action):
    PROMPT_TEMPLATE: str = """
    ### BACKGROUND
    You are using an agent framework called metagpt to write agents capable of different actions,
    the usage of metagpt can be illustrated by the following example:
    ### EXAMPLE STARTS AT THIS LINE
    {example}
    ### EXAMPLE ENDS AT THIS LINE
    ### TASK
    Now you should create an agent with appropriate actions based on the instruction.
    ### INSTRUCTION
    {instruction}
    ### YOUR CODE
    Return ```python your_code_here ``` with NO other texts, your code:
    """

    async def run(self, example: str, instruction: str):
        prompt = self.PROMPT_TEMPLATE.format(example=example, instruction=instruction)
        rsp = await self._aask(prompt)
        return CreateAgent.parse_code(rsp)

    @staticmethod
    def parse_code(rsp):
        match = re.search(r"```python(.*)```", rsp, re.DOTALL)
        code_text = match.group(1) if match else ""
        CONFIG.workspace_path.mkdir(parents=True, exist_ok=True)
        new_file = CONFIG.workspace_path / "agent_created_agent.py"
        new_file.write_text(code_text)
        return code_text


class AgentCreator(Role):
    name: str = "Matrix"
    profile: str = "AgentCreator"
    agent_template: str = MULTI_ACTION_AGENT_CODE_EXAMPLE

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._init_actions([CreateAgent])

    async def _act(self) -> Message:
        logger.info(f"{self._setting}: ready to {self.rc.todo}")
        todo = self.rc.todo
        msg = self.rc.memory.get()[-1]
        code_text = await CreateAgent().run(example=self.agent_template, instruction=msg.content)
        return Message(content=code_text, role=self.profile, cause_by=todo)


async def main():
    creator = AgentCreator(agent_template=MULTI_ACTION_AGENT_CODE_EXAMPLE)
    msg = "Write an agent called SimpleTester that writes pytest tests for a code snippet."
    await creator.run(msg)
    print(f"EXAMPLE {EXAMPLE_CODE_FILE.relative_to(METAGPT_ROOT)}")
    print(f"WROTE {(CONFIG.workspace_path / 'agent_created_agent.py').read_text().strip().splitlines()[0]}")


asyncio.run(main())
