"""MetaGPT 0.4-0.8's SubscriptionRunner example: a role run on each message a trigger yields."""

import asyncio

from metagpt.actions import Action
from metagpt.roles import Role
from metagpt.schema import Message
from metagpt.subscription import SubscriptionRunner


class Summarize(Action):
    async def run(self, history):
        return await self._aask(f"Summarize: {history[-1].content}")


class Searcher(Role):
    name: str = "Sam"
    profile: str = "Searcher"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.set_actions([Summarize])


async def trigger():
    for topic in ("OpenAI", "MetaGPT"):
        yield Message(f"the latest news about {topic}")
        await asyncio.sleep(0.01)


async def callback(msg: Message):
    print(f"CALLBACK {msg.content}")


async def main():
    pb = SubscriptionRunner()
    await pb.subscribe(Searcher(), trigger(), callback)
    await pb.run()


asyncio.run(main())
