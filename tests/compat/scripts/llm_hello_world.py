"""MetaGPT 0.6-0.8's examples/llm_hello_world.py, with 0.2's dict reading of `acompletion`."""

import asyncio

from metagpt.llm import LLM
from metagpt.logs import logger


async def main():
    llm = LLM()
    logger.info(await llm.aask("hello world"))
    logger.info(await llm.aask_batch(["hi", "write python hello world."]))

    hello_msg = [{"role": "user", "content": "count from 1 to 10. split by newline."}]
    rsp = await llm.acompletion(hello_msg)
    logger.info(rsp)
    print(f"DICT {rsp['choices'][0]['message']['content']} {len(rsp) > 0}")
    print(f"TEXT {await llm.acompletion_text(hello_msg)}")
    await llm.acompletion_text(hello_msg, stream=True)
    if hasattr(llm, "completion"):
        logger.info(llm.completion(hello_msg))


if __name__ == "__main__":
    asyncio.run(main())
