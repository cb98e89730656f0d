from metagpt.memory.memory import Memory

__all__ = ["Memory"]
