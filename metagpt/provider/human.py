"""A person at the terminal as a model (`Role(is_human=True)`).

Going through the provider interface means a human role's turns are logged, counted and tested
like any model's: they cost nothing, and the person answers in place of the model.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from metagpt.exceptions import HumanStopped, UserError
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, Usage

STOP_WORDS = {"exit", "quit"}


class HumanProvider(Provider):
    """Shows the request's last message and returns what the person types (one line).

    Args:
        who: how the prompt names the role being played, e.g. `Charlie(SimpleReviewer)`.
        stdin, stdout: the terminal; tests pass scripted streams. Without a terminal (stdin not
            a TTY, and no streams given) the call fails at once with a clear message instead of
            waiting for input that cannot come.
    """

    priced = False

    def __init__(self, who: str = "you", stdin: TextIO | None = None, stdout: TextIO | None = None):
        self.model = "human"
        self.who = who
        self._scripted = stdin is not None
        self.stdin = stdin
        self.stdout = stdout

    async def complete(self, request: ModelRequest) -> ModelResponse:
        stdin = self.stdin or sys.stdin
        stdout = self.stdout or sys.stdout
        if not self._scripted and not stdin.isatty():
            raise UserError(
                f"{self.who} is played by a human (is_human=True), but standard input is not a terminal; "
                "run the script in a terminal, or drop is_human to let the model play the role."
            )
        prompt = request.messages[-1]["content"] if request.messages else ""
        stdout.write(f"\n{prompt}\n\n[{self.who}] your answer ('exit' to stop): ")
        stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            raise UserError(f"{self.who}: standard input closed while waiting for an answer.")
        text = line.rstrip("\n")
        if text.strip().lower() in STOP_WORDS:
            raise HumanStopped(f"{self.who} ended the run.")
        return ModelResponse(text=text, usage=Usage(), model=self.model, finish_reason="stop")

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return 0
