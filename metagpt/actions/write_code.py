"""Engineer's step: the code of one file."""

from __future__ import annotations

import re

from metagpt.actions.action import Action

_CODE_BLOCK = re.compile(r"```[\w+-]*[ \t]*\n(.*?)(?:\n```|\Z)", re.DOTALL)
CODE_STOP = ["\n```\n"]
"""Stop once the code block closes, so a model cannot ramble on after the file."""


def extract_code(text: str) -> str:
    """The code in a model answer: the longest fenced block, or the whole answer without fences."""
    blocks = [match.group(1) for match in _CODE_BLOCK.finditer(text)]
    code = max(blocks, key=len) if blocks else text
    return cut_loops(code.strip("\n")) + "\n"


def cut_loops(code: str, min_block: int = 2, max_repeats: int = 3) -> str:
    """Cut a file where the same block of lines starts repeating over and over.

    Small models sometimes loop on a few lines until the token limit; everything from the
    third repetition of such a block on is dropped.
    """
    lines = code.splitlines()
    for size in range(min_block, 9):
        for start in range(0, len(lines) - size * max_repeats + 1):
            block = lines[start : start + size]
            if not any(line.strip() for line in block):
                continue
            repeats = 1
            while lines[start + repeats * size : start + (repeats + 1) * size] == block:
                repeats += 1
            if repeats >= max_repeats:
                return "\n".join(lines[: start + size])
    return code


class WriteCode(Action):
    """Write one file of the task list, with the design, the tasks and earlier files as context."""

    prompt_name = "write_code"

    async def run(self, filename: str, design: str, tasks: str, written: dict[str, str]) -> str:
        others = "\n\n".join(f"## {name}\n```python\n{code}```" for name, code in written.items()) or "(none yet)"
        prompt = self.prompt(filename=filename, design=design, tasks=tasks, written=others)
        return extract_code(await self._aask(prompt, stop=CODE_STOP))
