"""`metagpt.provider.base_llm` (an alias, see `metagpt.compat`): MetaGPT's name for the model every
role and action asks, here `metagpt.llm.LLM`.

Providers (one small async interface) are `metagpt.provider.base.Provider`; `LLM` wraps one with
retries, budget, cost and logs, and offers the `aask`/`acompletion` API MetaGPT's `BaseLLM` did.
"""

from metagpt.llm import LLM as BaseLLM

__all__ = ["BaseLLM"]
