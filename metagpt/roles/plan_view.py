"""The role as its `Planner` sees it: a few names over the role's own steps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metagpt.actions import Action
    from metagpt.llm import LLM
    from metagpt.roles.planner import Task, TaskResult
    from metagpt.schema import Message


class PlanView:
    """The role as its `Planner` sees it (`PlanHost`): a few names over the role's own steps."""

    def __init__(self, role: Any):
        self._role = role
        self.name, self.profile, self.label = role.name, role.profile, role._setting

    @property
    def llm(self) -> LLM:
        return self._role.llm

    @property
    def actions(self) -> list[Action]:
        return self._role.actions

    @property
    def system_prompt(self) -> str:
        return self._role._get_prefix()

    @property
    def todo(self) -> Action | None:
        return self._role.rc.todo

    def start(self, action: Action) -> None:
        self._role._set_state(next(i for i, a in enumerate(self._role.actions) if a is action))

    async def act_on_task(self, task: Task) -> TaskResult:
        return await self._role._act_on_task(task)

    def remember(self, message: Message) -> None:
        self._role.rc.memory.add(message)

    def recent(self, k: int) -> list[Message]:
        return self._role.rc.memory.get(k=k)

    def to_message(self, result: Any, cause_by: Action) -> Message:
        return self._role._to_message(result, cause_by)
