"""Engineer's step: the code of one file, with the parser's verdict fed back once."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from loguru import logger

from metagpt.actions.action import Action
from metagpt.experience.records import code_task
from metagpt.journal.scope import call_scope
from metagpt.prompts import render_prompt

_CODE_BLOCK = re.compile(r"```[\w+-]*[ \t]*\n(.*?)(?:\n```|\Z)", re.DOTALL)
CODE_STOP = ["\n```\n"]
"""Stop once the code block closes, so a model cannot ramble on after the file."""


def extract_code(text: str) -> str:
    """The code in a model answer: the longest fenced block, or the whole answer without fences."""
    blocks = [match.group(1) for match in _CODE_BLOCK.finditer(text)]
    code = max(blocks, key=len) if blocks else text
    return cut_redefinitions(cut_loops(code.strip("\n"))) + "\n"


_TOP_LEVEL_DEFINITION = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)")


def cut_redefinitions(code: str) -> str:
    """Cut a Python file where a top-level class or function is defined a second time.

    Small models loop on a file with small variations (`# game.py`, `class Game:` ... four
    times over, never the same lines twice, so `cut_loops` cannot see it); the second
    definition of a name and everything after it go, with the comments just above it.
    """
    lines = code.splitlines()
    seen: set[str] = set()
    for number, line in enumerate(lines):
        match = _TOP_LEVEL_DEFINITION.match(line)
        if not match:
            continue
        if match.group(1) in seen:
            end = number
            while end > 0 and (not lines[end - 1].strip() or lines[end - 1].startswith(("#", "@"))):
                end -= 1
            return "\n".join(lines[:end]).rstrip("\n")
        seen.add(match.group(1))
    return code


def cut_loops(code: str, min_block: int = 2, max_repeats: int = 3) -> str:
    """Cut a file where the same block of lines starts repeating over and over.

    Small models sometimes loop on a block of lines until the token limit (SmolLM2-135M writes
    one 12-line block nine times); from the `max_repeats`-th copy in a row of any block of at
    least `min_block` lines on, everything is dropped, the first copy kept. The earliest loop
    wins, and at one place the shortest block.
    """
    lines = code.splitlines()
    for start in range(len(lines)):
        for size in range(min_block, (len(lines) - start) // max_repeats + 1):
            block = lines[start : start + size]
            if not any(line.strip() for line in block):
                continue
            repeats = 1
            while lines[start + repeats * size : start + (repeats + 1) * size] == block:
                repeats += 1
            if repeats >= max_repeats:
                return "\n".join(lines[: start + size])
    return code


def syntax_error(code: str, filename: str) -> str | None:
    """The parser's message for a Python file that does not parse; None when it does (or is not Python)."""
    if not filename.endswith(".py"):
        return None
    try:
        ast.parse(code, filename=filename)
    except SyntaxError as exc:
        return f"{exc.msg} (line {exc.lineno}): {(exc.text or '').strip()}"
    return None


async def ask_code(action: Action, prompt: str, filename: str, fallback: Callable[[], str] | None = None) -> str:
    """Ask for the whole code of `filename`; Python that does not parse is asked for once more.

    The second request is the first prompt with the parser's message, without the broken answer
    (a small model copies its own mistake back). The second answer is kept if it parses;
    otherwise `fallback()` is (a file written from the design, which says so; the reviewed
    version for a rewrite), or, without a fallback, the first answer, with a warning. The calls
    are journaled with `filename` as their target.
    """
    with call_scope(action=action.name, target=filename):
        return await _ask_code(action, prompt, filename, fallback)


async def _ask_code(action: Action, prompt: str, filename: str, fallback: Callable[[], str] | None) -> str:
    llm = action.llm
    systems = [action.prefix] if action.prefix else None
    answer = (await llm.acompletion(llm.messages(prompt, systems), stop=CODE_STOP)).text
    code = extract_code(answer)
    error = syntax_error(code, filename)
    if error is None:
        return code
    logger.warning(f"{filename} does not parse ({error}); asking once for a fix")
    note = render_prompt("fix_syntax", filename=filename, error=error)
    retry = extract_code((await llm.acompletion(llm.messages(f"{prompt}\n\n{note}", systems), stop=CODE_STOP)).text)
    if syntax_error(retry, filename) is None:
        return retry
    if fallback is not None:
        logger.warning(f"{filename} still does not parse; keeping the fallback (e.g. a file written from the design)")
        return fallback()
    logger.warning(f"{filename} still does not parse; keeping the first version")
    return code


def code_context(files: dict[str, str]) -> str:
    """Files as markdown sections with fenced code, for prompts."""
    return "\n\n".join(f"## {name}\n```python\n{code}```" for name, code in files.items()) or "(none)"


class WriteCode(Action):
    """Write one file of the task list, seeing the design, the tasks and the files it depends on."""

    prompt_name = "write_code"

    async def run(
        self,
        filename: str,
        design: str,
        tasks: str,
        dependencies: dict[str, str],
        fallback: Callable[[], str] | None = None,
    ) -> str:
        """The code of `filename`; `fallback()` when the model's never parses (see `ask_code`).

        `design` is best given as `code_design.design_for_code` writes it: a small model copies
        raw mermaid (`classDiagram`) into the code as `classGame:`.
        """
        prompt = self.prompt(filename=filename, design=design, tasks=tasks, written=code_context(dependencies))
        pool = self.llm.context.experience
        if pool is None:
            return await ask_code(self, prompt, filename, fallback)
        # The experience pool (on): an exact repeat of a step QA confirmed is reused without a
        # call (QA still runs the tests); otherwise the closest confirmed examples are shown.
        messages = self.llm.messages(prompt, [self.prefix] if self.prefix else None)
        task = code_task(filename, tasks)
        reused = pool.reuse("write_code", messages)
        pool.propose("write_code", messages, task, filename, reused=reused is not None)
        if reused is not None:
            return reused.result
        return await ask_code(self, prompt + pool.examples(task, "write_code"), filename, fallback)
