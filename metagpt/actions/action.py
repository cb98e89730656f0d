"""`Action`: one step of a standard operating procedure, run by a role through its LLM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from metagpt.actions.document import Document
from metagpt.prompts import render_prompt

if TYPE_CHECKING:
    from metagpt.llm import LLM


class Action:
    """A step that turns context into an output.

    Subclasses with a structured result set `output_model`; `ask_document` then fills the
    template `prompts/<prompt_name>.md` with the given values and asks the LLM for a validated
    instance (the LLM adds the model's format instructions).
    """

    output_model: ClassVar[type[Document] | None] = None
    prompt_name: ClassVar[str] = ""

    def __init__(self, llm: LLM | None = None):
        self._llm = llm
        self.system_prompt: str | None = None

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            from metagpt.llm import LLM

            self._llm = LLM()
        return self._llm

    def set_llm(self, llm: LLM, system_prompt: str | None = None) -> None:
        """Run through `llm`, with the owning role's system prompt."""
        self._llm = llm
        self.system_prompt = system_prompt

    def prompt(self, **values: str) -> str:
        return render_prompt(self.prompt_name, **values)

    async def ask_document(self, **values: str) -> Document:
        assert self.output_model is not None, f"{self.name} declares no output_model"
        systems = [self.system_prompt] if self.system_prompt else None
        return await self.llm.aask_model(self.prompt(**values), self.output_model, system_msgs=systems)

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{self.name}()"


class UserRequirement(Action):
    """Marks the boss's requirement; it never runs, roles watch it to start the SOP."""


BossRequirement = UserRequirement
