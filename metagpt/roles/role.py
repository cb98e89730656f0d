"""`Role`: an agent that watches messages, thinks about what to do and acts with its actions.

Loop contract (one `run` per round): `_observe` moves new messages the role watches from its
inbox into memory; if there were none, the role is idle and returns `None`. Otherwise `_react`
picks actions (`by_order`: each action in turn; `react`: the LLM picks the next one, at most
`max_react_loop` times) and runs them with `_act`; the last result is published to the
environment and returned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, Literal

from loguru import logger

from metagpt.actions.action import Action
from metagpt.actions.document import Document
from metagpt.context import Context
from metagpt.llm import LLM
from metagpt.memory import Memory
from metagpt.prompts import render_prompt
from metagpt.schema import Message, any_to_str

if TYPE_CHECKING:
    from metagpt.environment import Environment
    from metagpt.project_repo import ProjectRepo

ReactMode = Literal["by_order", "react"]


class Role:
    """Base of every role.

    Subclasses declare `action_classes` (what they can do) and `watch_actions` (whose messages
    wake them), or call `_init_actions` / `_watch` in `__init__` for per-instance choices.
    """

    name: str = ""
    profile: str = ""
    goal: str = ""
    constraints: str = ""
    action_classes: ClassVar[tuple[type[Action], ...]] = ()
    watch_actions: ClassVar[tuple[type[Action], ...]] = ()

    def __init__(
        self,
        name: str | None = None,
        profile: str | None = None,
        goal: str | None = None,
        constraints: str | None = None,
        context: Context | None = None,
        react_mode: ReactMode = "by_order",
        max_react_loop: int = 3,
    ):
        self.name = name or self.name or type(self).__name__
        self.profile = profile or self.profile or self.name
        self.goal = goal if goal is not None else self.goal
        self.constraints = constraints if constraints is not None else self.constraints
        self.react_mode: ReactMode = react_mode
        self.max_react_loop = max_react_loop
        self.actions: list[Action] = [cls() for cls in self.action_classes]
        self.watch: set[str] = {any_to_str(cls) for cls in self.watch_actions}
        self.memory = Memory()
        self.inbox: list[Message] = []
        self.news: list[Message] = []
        self.todo: Action | None = None
        self.env: Environment | None = None
        self._context = context
        self._llm: LLM | None = None

    # -- wiring ---------------------------------------------------------------------------------

    @property
    def context(self) -> Context:
        if self._context is None:
            self._context = Context()
        return self._context

    def set_context(self, context: Context) -> None:
        """Join a company: share its config, budget and provider."""
        self._context = context
        self._llm = None

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            self._llm = LLM(self.context, role=self.profile)
        return self._llm

    @property
    def project(self) -> ProjectRepo | None:
        return self.context.project

    @property
    def system_prompt(self) -> str:
        return render_prompt(
            "role_system", profile=self.profile, name=self.name, goal=self.goal, constraints=self.constraints or "none"
        ).strip()

    def _init_actions(self, actions: Iterable[Action | type[Action]]) -> None:
        self.actions = [a() if isinstance(a, type) else a for a in actions]

    def _watch(self, actions: Iterable[type[Action] | Action | str]) -> None:
        """Subscribe to messages caused by these actions."""
        self.watch = {any_to_str(a) for a in actions}

    def set_env(self, env: Environment) -> None:
        self.env = env

    # -- messages -------------------------------------------------------------------------------

    def is_watching(self, message: Message) -> bool:
        """Whether `message` is for this role: addressed to it, or caused by a watched action."""
        if message.send_to:
            return bool(message.send_to & {self.name, self.profile, any_to_str(self)})
        return message.cause_by in self.watch

    def put_message(self, message: Message) -> None:
        self.inbox.append(message)

    @property
    def is_idle(self) -> bool:
        return not self.inbox and self.todo is None

    def publish(self, message: Message) -> None:
        if self.env is not None:
            self.env.publish_message(message)

    # -- the loop -------------------------------------------------------------------------------

    async def _observe(self) -> int:
        self.news = [m for m in self.inbox if self.is_watching(m) and m.sent_from != self.name]
        self.inbox.clear()
        self.memory.add_batch(self.news)
        return len(self.news)

    async def _think(self) -> bool:
        """Choose `self.todo`; False when there is nothing left to do."""
        if not self.actions:
            return False
        if self.react_mode == "by_order" or len(self.actions) == 1:
            index = 0 if self.todo is None else self.actions.index(self.todo) + 1
            self.todo = self.actions[index] if index < len(self.actions) else None
            return self.todo is not None
        options = "\n".join(f"{i}. {a.name}" for i, a in enumerate(self.actions))
        history = "\n".join(str(m) for m in self.memory.get(10))
        prompt = render_prompt("role_choose_action", history=history, options=options, count=str(len(self.actions)))
        answer = await self.llm.aask(prompt, [self.system_prompt])
        match = re.search(r"-?\d+", answer)
        choice = int(match.group()) if match else -1
        self.todo = self.actions[choice] if 0 <= choice < len(self.actions) else None
        return self.todo is not None

    async def _act(self) -> Message:
        """Run `self.todo` on the new messages' text.

        A `Document` result is handed to `on_document`, saved to the project folder at once,
        and published as markdown with the document as `instruct_content`.
        """
        assert self.todo is not None
        result = await self.todo.run("\n\n".join(m.content for m in self.news))
        if isinstance(result, Document):
            self.on_document(result)
            if self.project is not None:
                self.project.save_document(result)
            content, instruct = result.to_markdown(), result
        else:
            content, instruct = str(result), None
        return Message(
            content=content,
            instruct_content=instruct,
            role=self.profile,
            cause_by=any_to_str(self.todo),
            sent_from=self.name,
        )

    def on_document(self, document: Document) -> None:
        """Hook run on each document before it is saved."""

    async def _react(self) -> Message | None:
        result: Message | None = None
        self.todo = None
        for _ in range(len(self.actions) if self.react_mode == "by_order" else self.max_react_loop):
            if not await self._think():
                break
            logger.info(f"{self.profile} ({self.name}): {self.todo.name}")
            self.todo.set_llm(self.llm, self.system_prompt)
            result = await self._act()
            self.memory.add(result)
            self.publish(result)
        self.todo = None
        return result

    async def run(self, with_message: str | Message | None = None) -> Message | None:
        """Observe, think and act once; returns the last message produced, or None when idle."""
        if with_message is not None:
            message = with_message if isinstance(with_message, Message) else Message(content=with_message)
            if not message.cause_by and not message.send_to:
                message.send_to = {self.name}
            self.put_message(message)
        if not await self._observe():
            return None
        return await self._react()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
