"""`Action`: one step a role takes, usually one or a few model calls.

Both ways MetaGPT users write actions work:

    class SimpleWriteCode(Action):                  # declarative
        name: str = "SimpleWriteCode"
        PROMPT_TEMPLATE: str = "Write a python function that can {instruction}."

        async def run(self, instruction: str):
            return await self._aask(self.PROMPT_TEMPLATE.format(instruction=instruction))

    class ShoutOut(Action):                         # plain class
        def __init__(self, name="ShoutOut", context=None, llm=None):
            super().__init__(name, context, llm)

    say = Action(name="Say", instruction="Say your opinion")   # MetaGPT 0.6+: a generic action
    await say.run(messages)                                    # its node answers the instruction
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel

from metagpt.actions.document import Document
from metagpt.journal.scope import call_scope
from metagpt.prompts import render_prompt
from metagpt.utils.declarative import Declared

if TYPE_CHECKING:
    from metagpt.actions.action_node import ActionNode
    from metagpt.configs.settings import Config
    from metagpt.context import Context
    from metagpt.llm import LLM
    from metagpt.schema import Message

T = TypeVar("T", bound=BaseModel)

current_llm: contextvars.ContextVar[LLM | None] = contextvars.ContextVar("current_llm", default=None)
"""The LLM of the role that is running, for actions created on the fly inside its `_act`, so
their calls are charged to that role's team budget."""


class Action(Declared):
    """A step that turns context into an output.

    Args:
        name: shown in logs and in `str(action)`; the class name by default.
        context: input the action may use (`i_context`), as in MetaGPT 0.1-0.5; a `Context`
            instance (MetaGPT 0.7+) is taken as the configuration and budget to use instead.
        llm: the model to use; by default the owning role's, or a default `LLM()` when the
            action runs outside any role.
        instruction: makes a generic action (MetaGPT 0.6+): its `node` answers the instruction
            on the messages `run` is given.
        config: a configuration of its own (e.g. another model), still charged to the running
            role's budget.

    Subclasses implement `async run(...)`. Actions that produce a SOP document set
    `output_model` and call `ask_document`, which fills `prompts/<prompt_name>.md`. Declared
    fields are validated by pydantic and dumped by `model_dump()` (see `Declared`).
    """

    name: str = ""
    i_context: Any = None
    prefix: str = ""
    """System prompt given to the model: the owning role's description."""
    desc: str = ""
    node: ActionNode | None = None
    """The structured answer this action fills, when it is built on an `ActionNode`."""

    output_model: ClassVar[type[Document] | None] = None
    prompt_name: ClassVar[str] = ""

    def __init__(
        self,
        name: str = "",
        context: Any = None,
        llm: LLM | None = None,
        *,
        instruction: str = "",
        config: Config | None = None,
        **fields: Any,
    ):
        from metagpt.context import Context

        if name:
            fields["name"] = name
        own_context = context if isinstance(context, Context) else None
        if context is not None and own_context is None:
            fields["i_context"] = context
        self._init_declared(fields)
        self.name = self.name or type(self).__name__
        self._llm = llm
        self._own_llm = llm is not None
        self._context: Context | None = own_context
        self._config = config if config is not None else (own_context.config if own_context else None)
        self._config_llm: LLM | None = None
        if instruction:
            from metagpt.actions.action_node import ActionNode

            self.node = ActionNode(key=self.name, expected_type=str, instruction=instruction, example="", schema="raw")

    # -- wiring ---------------------------------------------------------------------------------

    @property
    def llm(self) -> LLM:
        """The model this action asks: its own, the running role's, or a default one.

        With a `config` of its own, the action asks that configuration's model, charged to the
        running role's budget (or its own `Context`'s, outside any role).
        """
        if self._llm is not None:
            return self._llm
        running = current_llm.get()
        if self._config is not None:
            return self._configured_llm(running)
        if running is not None:
            return running
        from metagpt.llm import LLM

        self._llm = LLM(self._context)
        return self._llm

    @llm.setter
    def llm(self, llm: LLM) -> None:
        self._llm = llm
        self._own_llm = True

    def _configured_llm(self, running: LLM | None) -> LLM:
        from metagpt.context import Context
        from metagpt.llm import LLM
        from metagpt.provider import create_provider

        assert self._config is not None
        if running is None and self._context is None:
            self._context = Context(self._config)
        context = running.context if running is not None else self._context
        cached = self._config_llm
        if cached is None or cached.context is not context:
            provider = self._context.provider if self._context is not None and context is self._context else None
            provider = provider or create_provider(self._config)
            cached = LLM(context, role=running.role if running else "", provider=provider)
            self._config_llm = cached
        return cached

    @property
    def config(self) -> Config:
        """The configuration this action's model is built from."""
        return self._config if self._config is not None else self.llm.config

    @config.setter
    def config(self, config: Config) -> None:
        self._config = config
        self._config_llm = None

    @property
    def context(self) -> Any:
        """The action's input context (`i_context`), as MetaGPT 0.3 named it."""
        return self.i_context

    def set_llm(self, llm: LLM, system_prompt: str | None = None, override: bool = False) -> None:
        """Run through the owning role's `llm` (unless the action was given its own)."""
        if override or not self._own_llm:
            self._llm = llm
        if system_prompt is not None:
            self.prefix = system_prompt

    def set_prefix(self, prefix: str) -> Action:
        """Set the system prompt (the role's description) used by `_aask`."""
        self.prefix = prefix
        return self

    # -- asking the model -----------------------------------------------------------------------

    async def _aask(
        self, prompt: str, system_msgs: list[str] | None = None, stream: bool = False, stop: list[str] | None = None
    ) -> str:
        """Ask the model, after the role's system prompt and any extra `system_msgs`."""
        systems = [*([self.prefix] if self.prefix else []), *(system_msgs or [])]
        with call_scope(action=self.name):
            return await self.llm.aask(prompt, systems or None, stream=stream, stop=stop)

    async def _aask_model(
        self,
        prompt: str,
        output_model: type[T],
        system_msgs: list[str] | None = None,
        validation_context: dict[str, Any] | None = None,
        closing: str = "",
    ) -> T:
        """Ask for an answer shaped as the pydantic `output_model`, validated (and retried).

        `validation_context` reaches the model's validators, e.g. an earlier document to repair
        from; `closing` is read after the format's example (see `LLM.model_request`).
        """
        systems = [*([self.prefix] if self.prefix else []), *(system_msgs or [])]
        with call_scope(action=self.name):
            return await self.llm.aask_model(
                prompt,
                output_model,
                system_msgs=systems or None,
                validation_context=validation_context,
                closing=closing,
            )

    def prompt(self, **values: str) -> str:
        return render_prompt(self.prompt_name, **values)

    async def ask_document(
        self, validation_context: dict[str, Any] | None = None, closing: str = "", **values: str
    ) -> Document:
        """Fill this action's prompt template and ask for its `output_model`."""
        assert self.output_model is not None, f"{self.name} declares no output_model"
        return await self._aask_model(
            self.prompt(**values), self.output_model, validation_context=validation_context, closing=closing
        )

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        """Do the step; subclasses implement it. An action with a `node` fills it."""
        if self.node is not None:
            return await self._run_action_node(*args, **kwargs)
        raise NotImplementedError(f"{type(self).__name__} must implement `async def run(...)`")

    async def _run_action_node(self, *args: Any, **kwargs: Any) -> ActionNode:
        """Fill `node` on the history given (newest message first, numbered as MetaGPT does)."""
        assert self.node is not None
        history = args[0] if args else kwargs.get("with_messages", [])
        if isinstance(history, str):
            context = history
        else:
            context = "## History Messages\n" + "\n".join(f"{i}: {m}" for i, m in enumerate(reversed(history)))
        self.node.set_system_prompt(self.prefix)
        return await self.node.fill(context=context, llm=self.llm)

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__


def latest_input(messages: str | list[Message], cause: type[Action]) -> str:
    """The text an SOP action works on: the newest message caused by `cause`, else the newest one.

    A role's default `_act` passes its whole history; a caller may also pass the text itself.
    """
    if isinstance(messages, str):
        return messages
    for message in reversed(messages):
        if message.cause_by == cause:  # type: ignore[comparison-overlap]  # a RouteKey equals the class it names
            return message.content
    return messages[-1].content if messages else ""
