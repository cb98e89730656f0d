"""`Role`: an agent that watches messages, thinks about what to do and acts with its actions.

The loop, once per `run` (an environment calls `run()` once per round for each busy role):

1. `_observe()` moves the role's buffered messages into its memory and keeps as `rc.news` the
   new ones it watches (`_watch`: caused by those actions) or that are addressed to it by name.
   It returns their count; with none, `run` returns `None` and the role stays idle.
2. `react()` answers the news according to `rc.react_mode`:
   - `by_order`: `_think` selects each action in turn and `_act` runs it;
   - `react` (the default): `_think` lets the model pick the next action, or stop, at most
     `rc.max_react_loop` times (a role with one action just runs it);
   - `plan_and_act`: the model first writes a short plan of tasks (each naming an action),
     `_act_on_task` runs them one by one, and a failed task makes the model re-plan
     (at most `rc.max_react_loop` times).
3. The last message `_act` produced is published to the environment and returned.

`_act` returns a `Message`; the default one runs `rc.todo` on the role's history and wraps its
result (text, a document, or anything with `content`/`instruct_content`). Every step above is
safe to override; call `super()` to keep the default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from loguru import logger
from pydantic import BaseModel

from metagpt.actions.action import Action
from metagpt.actions.action_output import output_parts
from metagpt.actions.add_requirement import UserRequirement
from metagpt.actions.document import Document
from metagpt.context import Context
from metagpt.llm import LLM
from metagpt.prompts import render_prompt
from metagpt.roles.plan_view import PlanView
from metagpt.roles.planner import Planner, Task, TaskResult
from metagpt.roles.registry import record_role
from metagpt.roles.role_compat import MetaGPTRoleNames
from metagpt.roles.role_context import MessageBus, RoleContext, RoleReactMode, working_scope
from metagpt.schema import Message, any_to_str, any_to_str_set
from metagpt.utils.declarative import Declared

if TYPE_CHECKING:
    from metagpt.configs.settings import Config
    from metagpt.project_repo import ProjectRepo

__all__ = ["MessageBus", "Role", "RoleContext", "RoleReactMode"]


class Role(MetaGPTRoleNames, Declared):
    """Base of every role.

    Args (positional or keyword): `name`, `profile`, `goal`, `constraints`, `desc` (a full
    system prompt replacing the one built from the others). Keywords: `is_human` (a person at
    the terminal answers instead of the model), `context` (config, budget and provider; a team
    sets it on `hire`), `actions` and `watch` (as `set_actions` and `_watch` take them), and any
    attribute a subclass declares with an annotation. Declared fields are validated by pydantic
    (`pydantic.ValidationError` for a bad value) and dumped by `model_dump()` (see `Declared`).
    """

    name: str = ""
    profile: str = ""
    goal: str = ""
    constraints: str = ""
    desc: str = ""
    is_human: bool = False
    recovered: bool = False
    """Set on a role restored mid-run: its next `_think` resumes at `rc.state` (MetaGPT 0.7)."""
    latest_observed_msg: Message | None = None
    """The last message the role reacted to; a recovered role looks for it again."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        record_role(cls)  # saved state may name the roles this process defines, and only those

    def __init__(
        self,
        name: str | None = None,
        profile: str | None = None,
        goal: str | None = None,
        constraints: str | None = None,
        desc: str | None = None,
        *,
        context: Context | None = None,
        actions: Iterable[Action | type[Action]] | None = None,
        watch: Iterable[type[Action] | Action | str] | None = None,
        llm: LLM | None = None,
        config: Config | None = None,
        **fields: Any,
    ):
        given = {"name": name, "profile": profile, "goal": goal, "constraints": constraints, "desc": desc}
        self._init_declared({**{k: v for k, v in given.items() if v is not None}, **fields})
        self._named = bool(self.name)
        self.name = self.name or type(self).__name__
        self.profile = self.profile or self.name
        self.rc = RoleContext()
        self.actions: list[Action] = []
        self.states: list[str] = []
        self._context = context
        self._llm: LLM | None = llm
        self._config = config
        """A model of the role's own (MetaGPT 0.7's `Role(config=...)`), charged to the team's budget."""
        self._watch([UserRequirement])
        if actions is not None:
            self.set_actions(actions)
        if watch is not None:
            self._watch(watch)

    # -- wiring -----------------------------------------------------------------------------------

    @property
    def context(self) -> Context:
        if self._context is None:
            self._context = Context()
        return self._context

    @property
    def has_context(self) -> bool:
        """Whether the role was given (or has built) a context yet."""
        return self._context is not None

    def set_context(self, context: Context) -> None:
        """Join a team: share its config, budget and provider."""
        self._context = context
        self._llm = None

    @property
    def llm(self) -> LLM:
        """The role's model: the team's provider, or the person at the terminal (`is_human`)."""
        if self._llm is None:
            context = self.context
            config = self._config or context.config.for_role(type(self).__name__, self.profile, self.name)
            provider = None if config is context.config else context.provider_for(config)
            if self.is_human:
                from metagpt.provider.human import HumanProvider

                provider = HumanProvider(self._setting)
            own = None if config is context.config else config
            self._llm = LLM(context, role=self.profile, provider=provider, config=own)
        return self._llm

    @llm.setter
    def llm(self, llm: LLM) -> None:
        self._llm = llm

    @property
    def project(self) -> ProjectRepo | None:
        return self.context.project

    def _get_prefix(self) -> str:
        """The system prompt: `desc` when given, else built from profile, name, goal, constraints."""
        if self.desc:
            return self.desc
        return render_prompt(
            "role_system", profile=self.profile, name=self.name, goal=self.goal, constraints=self.constraints or "none"
        ).strip()

    @property
    def system_prompt(self) -> str:
        return self._get_prefix()

    def set_actions(self, actions: Iterable[Action | type[Action]]) -> None:
        """Replace the role's actions (classes are instantiated)."""
        self.actions, self.states = [], []
        for action in actions:
            self.set_action(action)

    _init_actions = set_actions

    def set_action(self, action: Action | type[Action]) -> None:
        """Add one action (a class is instantiated)."""
        instance = action() if isinstance(action, type) else action
        instance.set_prefix(self._get_prefix())
        self.actions.append(instance)
        self.states.append(f"{len(self.actions) - 1}. {instance}")

    def _watch(self, actions: Iterable[type[Action] | Action | str]) -> None:
        """Wake on messages caused by these actions (replaces the watch list)."""
        self.rc.watch = any_to_str_set(actions)

    def _set_react_mode(self, react_mode: RoleReactMode | str, max_react_loop: int = 1, auto_run: bool = True) -> None:
        """Choose how the role answers its news (see the module docstring)."""
        if react_mode not in RoleReactMode.values():
            raise ValueError(f"react_mode must be one of {RoleReactMode.values()}, got {react_mode!r}")
        self.rc.react_mode = RoleReactMode(react_mode)
        self.rc.max_react_loop = max(1, max_react_loop)

    def _set_state(self, state: int) -> None:
        """Make action `state` the todo (-1: nothing to do)."""
        self.rc.state = state
        self.rc.todo = self.actions[state] if 0 <= state < len(self.actions) else None
        if self.rc.todo is not None:
            self.rc.todo.set_prefix(self._get_prefix())

    def set_env(self, env: MessageBus) -> None:
        self.rc.env = env

    @property
    def todo(self) -> Action | None:
        return self.rc.todo

    def set_todo(self, value: Action | None) -> None:
        self.rc.todo = value

    def get_memories(self, k: int = 0) -> list[Message]:
        """The last `k` remembered messages (all when `k` is 0)."""
        return self.rc.memory.get(k=k)

    # -- messages ---------------------------------------------------------------------------------

    @property
    def addresses(self) -> set[str]:
        """MetaGPT 0.6+'s address set: the role's class path and its own name (or `set_addresses`).

        A message also reaches the role by its profile, or by the class name it is named after
        when it has no name of its own (`_routes`), as older scripts and the SOP address roles.
        """
        if self._addresses is not None:
            return set(self._addresses)
        own = self._named or self.name != type(self).__name__
        return {any_to_str(self), self.name} if own else {any_to_str(self)}

    @property
    def _routes(self) -> set[str]:
        """Every name that delivers a message to this role: `addresses`, plus name and profile
        unless `set_addresses` chose the addresses."""
        if self._addresses is not None:
            return set(self._addresses)
        return self.addresses | {self.name, self.profile}

    def put_message(self, message: Message | None) -> None:
        """Deliver `message` to this role (it is observed in the role's next run); None is ignored."""
        if message:
            self.rc.msg_buffer.append(message)

    def publish_message(self, message: Message | None) -> None:
        """Send `message` to the environment (a message only for this role stays here)."""
        if not message:
            return
        if message.send_to and message.send_to <= self._routes:
            self.put_message(message)
        elif self.rc.env is not None:
            self.rc.env.publish_message(message)

    def _is_news(self, message: Message) -> bool:
        """Whether this role reacts to `message`: unseen, and watched or addressed to it by name."""
        watched = message.cause_by in self.rc.watch or not message.send_to.isdisjoint(self._routes)
        return watched and message not in self.rc.memory

    @property
    def is_idle(self) -> bool:
        """Nothing to do and nothing waiting that this role would react to."""
        return self.rc.todo is None and not any(self._is_news(m) for m in self.rc.msg_buffer)

    # -- the loop ---------------------------------------------------------------------------------

    async def _observe(self) -> int:
        """Remember buffered messages; `rc.news` gets the new ones this role reacts to.

        A `recovered` role first looks again for `latest_observed_msg` (the message it was
        reacting to when it stopped) among what it has not remembered yet.
        """
        observed = self.latest_observed_msg
        buffered = self.rc.memory.find_news([observed], k=10) if self.recovered and observed is not None else []
        if not buffered:
            buffered, self.rc.msg_buffer = self.rc.msg_buffer, []
        self.rc.news = [m for m in buffered if self._is_news(m)]
        self.rc.memory.add_batch(buffered)
        self.latest_observed_msg = self.rc.news[-1] if self.rc.news else None
        if self.rc.news:
            logger.debug(f"{self._setting} observed: {[f'{m.role}: {m.content[:20]}...' for m in self.rc.news]}")
        return len(self.rc.news)

    async def _think(self) -> bool:
        """Choose `rc.todo`; False when there is nothing (more) to do."""
        if not self.actions:
            return False
        if len(self.actions) == 1:
            self._set_state(0)
            return True
        if self.recovered and self.rc.state >= 0:  # resume at the action it was taking
            self._set_state(self.rc.state)
            self.recovered = False
            return True
        if self.rc.react_mode == RoleReactMode.BY_ORDER:
            self._set_state(self.rc.state + 1)
            return self.rc.todo is not None
        prompt = render_prompt(
            "role_choose_action",
            history="\n".join(str(m) for m in self.rc.history[-10:]) or "(nothing yet)",
            states="\n".join(self.states),
            n_states=str(len(self.states) - 1),
            previous_state=str(self.rc.state),
        )
        answer = await self.llm.aask(prompt, [self._get_prefix()])
        match = re.search(r"-?\d+", answer)
        state = int(match.group()) if match else -1
        if not 0 <= state < len(self.actions):
            if state != -1:
                logger.warning(f"{self._setting}: the model chose no valid action ({answer.strip()[:40]!r}); stopping")
            state = -1
        self._set_state(state)
        return self.rc.todo is not None

    async def _act(self) -> Message:
        """Run `rc.todo` on the role's history; its result becomes a remembered `Message`."""
        todo = self.rc.todo
        assert todo is not None, "_act needs a todo; _think chooses it"
        logger.info(f"{self._setting}: to do {todo}")
        result = await todo.run(self.rc.history)
        message = self._to_message(result, todo)
        self.rc.memory.add(message)
        return message

    def _to_message(self, result: Any, cause_by: Action) -> Message:
        """Wrap an action's result: a message as is, a document saved, anything else as text."""
        if isinstance(result, Message):
            return result
        instruct: BaseModel | None
        if isinstance(result, Document):
            self.on_document(result)
            if self.project is not None:
                self.project.save_document(result)
            content, instruct = result.to_markdown(), result
        else:
            content, instruct = output_parts(result)
        return Message(content, instruct_content=instruct, role=self.profile, cause_by=cause_by, sent_from=self.name)

    def on_document(self, document: Document) -> None:
        """Hook run on each document an action returns, before it is saved."""

    async def _react(self) -> Message:
        """Think and act until `_think` says stop or `rc.max_react_loop` actions were taken.

        `by_order` takes every action, counting ones an action adds while the role runs.
        """
        response = Message("No actions taken yet", role=self.profile, cause_by=Action, sent_from=self.name)
        taken = 0
        while taken < max(self._react_limit(), 1):
            if not await self._think():
                break
            response = await self._act()
            taken += 1
        return response

    def _react_limit(self) -> int:
        by_order = self.rc.react_mode == RoleReactMode.BY_ORDER
        return max(len(self.actions), self.rc.max_react_loop) if by_order else self.rc.max_react_loop

    async def _plan_and_act(self) -> Message:
        """Plan tasks with the model, run them with `_act_on_task`, re-plan on failure."""
        goal = "\n".join(m.content for m in self.rc.news)
        return await Planner(PlanView(self), goal, max_replans=self.rc.max_react_loop).run()

    async def _act_on_task(self, task: Task) -> TaskResult:
        """Run one planned task: its action gets the task instruction with the plan's context."""
        return await Planner.default_act_on_task(PlanView(self), task)

    async def react(self) -> Message:
        """Answer the news in the role's react mode; the todo is reset afterwards."""
        if self.rc.react_mode == RoleReactMode.PLAN_AND_ACT:
            response = await self._plan_and_act()
        else:
            response = await self._react()
        self._set_state(-1)
        return response

    async def run(self, with_message: str | list[str] | Message | None = None) -> Message | None:
        """Observe, react and publish once; returns the last message, or None when idle.

        `with_message` is put in the role's buffer first: a string is addressed to this role.
        """
        if with_message:
            self.put_message(self._as_message(with_message))
        with self._running():
            if not await self._observe():
                logger.debug(f"{self._setting}: no news, waiting")
                return None
            response = await self.react()
            self.set_todo(None)
            self.publish_message(response)
            return response

    def _running(self) -> AbstractContextManager[None]:
        """The scope the role works in: its model and context current (`working_scope`)."""
        return working_scope(self.llm, self._context)

    def _as_message(self, value: str | list[str] | Message) -> Message:
        if isinstance(value, Message):
            return value
        content = "\n".join(value) if isinstance(value, list) else str(value)
        return Message(content, cause_by=UserRequirement, send_to=self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, profile={self.profile!r})"
