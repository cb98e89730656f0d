"""A person at the terminal as a model (`Role(is_human=True)`).

Going through the provider interface means a human role's turns are logged, counted and tested
like any model's: they cost nothing, and the person answers in place of the model.
"""

from __future__ import annotations

import abc
import asyncio
import sys
from typing import Any, TextIO

from metagpt.exceptions import HumanInputClosed, HumanStopped
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, Usage

STOP_WORDS = {"exit", "quit"}


class _HumanCheck(abc.ABCMeta):
    """`isinstance(role.llm, HumanProvider)` holds for a human role's model, as in MetaGPT."""

    def __instancecheck__(cls, instance: Any) -> bool:
        return super().__instancecheck__(instance) or super().__instancecheck__(getattr(instance, "_provider", None))


class HumanProvider(Provider, metaclass=_HumanCheck):
    """Shows the request's last message and returns what the person types (one line).

    Answers are read from standard input whether it is a terminal or a pipe (`echo LGTM |
    python team.py`), as MetaGPT's `input()` did; only a closed or exhausted input stops the
    run, with one line saying so.

    Args:
        who: how the prompt names the role being played, e.g. `Charlie(SimpleReviewer)`
            (MetaGPT passed an LLM config here; anything but text reads as "you").
        stdin, stdout: the terminal by default; tests pass scripted streams.
    """

    priced = False

    api_type = "human"

    def __init__(self, who: Any = "you", stdin: TextIO | None = None, stdout: TextIO | None = None):
        self.model = "human"
        self.who = who if isinstance(who, str) and who else "you"
        self.stdin = stdin
        self.stdout = stdout

    async def complete(self, request: ModelRequest) -> ModelResponse:
        prompt = request.messages[-1]["content"] if request.messages else ""
        text = await self.aask(prompt)
        return ModelResponse(text=text, usage=Usage(), model=self.model, finish_reason="stop")

    def ask(self, msg: str, timeout: float | None = None) -> str:
        """Show `msg` and return the person's one-line answer (MetaGPT's `HumanProvider.ask`)."""
        stdin = self.stdin or sys.stdin
        stdout = self.stdout or sys.stdout
        stdout.write(f"\n{msg}\n\n[{self.who}] your answer ('exit' to stop): ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            raise HumanInputClosed(
                f"{self.who}: standard input closed while waiting for an answer; pipe one line per turn."
            )
        text = line.rstrip("\n")
        if text.strip().lower() in STOP_WORDS:
            raise HumanStopped(f"{self.who} ended the run.")
        return text

    async def aask(self, msg: str, *args: Any, **kwargs: Any) -> str:
        """`ask` without blocking the event loop (other roles keep running while the person types)."""
        return await asyncio.to_thread(self.ask, msg)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        return 0
