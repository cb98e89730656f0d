"""MetaGPT 0.5-0.8's examples/write_tutorial.py: the off-the-shelf TutorialAssistant."""

import asyncio

from metagpt.roles.tutorial_assistant import TutorialAssistant


async def main():
    topic = "Write a tutorial about MySQL"
    role = TutorialAssistant(language="English")
    message = await role.run(topic)
    print(f"FILE {message.content}")


if __name__ == "__main__":
    asyncio.run(main())
