"""Fixing step: rewrite the file the failing tests were pinned on."""

from __future__ import annotations

from metagpt.actions.action import Action
from metagpt.actions.write_code import ask_code, code_context
from metagpt.prompts import render_prompt


class DebugError(Action):
    """Rewrite one file (code or test) so that the failing tests pass, given pytest's output."""

    async def run(self, filename: str, code: str, other: dict[str, str], output: str, context: str) -> str:
        prompt = render_prompt(
            "debug_error", filename=filename, code=code, other=code_context(other), output=output, context=context
        )
        return await ask_code(self, prompt, filename)
