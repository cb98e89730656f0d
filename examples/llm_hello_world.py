"""Direct model calls. Runs on whatever config/key.yaml selects (the local model by default)."""

import asyncio

from metagpt.llm import LLM


async def main() -> None:
    llm = LLM()
    print(await llm.aask("hello world"))
    response = await llm.acompletion([{"role": "user", "content": "hello"}])
    print(response.text, response.usage)
    print(llm.cost_manager.summary())


if __name__ == "__main__":
    asyncio.run(main())
