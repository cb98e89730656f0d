"""MetaGPT's module name for the human provider; the provider lives in `metagpt.provider.human`."""

from metagpt.provider.human import HumanProvider

__all__ = ["HumanProvider"]
