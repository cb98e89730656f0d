"""The `plan_and_act` react mode: the model plans tasks, the role runs them, failures re-plan.

The plan is a pydantic model whose `action` field is limited to the role's action names, so the
schema sent to the model (and the embedded model's grammar) only admits actions that exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from loguru import logger
from pydantic import BaseModel, Field, create_model

from metagpt.exceptions import ModelBehaviorError
from metagpt.prompts import render_prompt
from metagpt.schema import Message

if TYPE_CHECKING:
    from metagpt.actions.action import Action
    from metagpt.llm import LLM

MAX_TASKS = 8


class Task(BaseModel):
    """One step of a plan."""

    task_id: str = Field(description="A short id, e.g. '1'.")
    instruction: str = Field(description="What to do in this step, precisely.")
    action: str = Field(description="The name of the action that does this step.")
    dependent_task_ids: list[str] = Field(default_factory=list, description="Ids of the steps it needs.")


class Plan(BaseModel):
    """The tasks the model chose for a goal, in the order to run them."""

    goal: str = ""
    tasks: list[Task] = Field(default_factory=list)


class TaskResult(BaseModel):
    """What running one task gave; a failed task makes the planner re-plan."""

    result: str = ""
    is_success: bool = True


def plan_model(action_names: list[str]) -> type[BaseModel]:
    """A `Plan` schema whose tasks can only name these actions."""
    names = tuple(dict.fromkeys(action_names))
    planned_task = create_model(
        "PlannedTask",
        __base__=Task,
        action=(Literal[names], Field(description="The action that does this step.")),  # type: ignore[arg-type]  # a Literal of run-time names
    )
    return create_model("Plan", tasks=(list[planned_task], Field(min_length=1, max_length=MAX_TASKS)))


def describe(action: object) -> str:
    """First line of an action's `desc` or docstring."""
    text = (getattr(action, "desc", "") or type(action).__doc__ or "").strip()
    return text.splitlines()[0] if text else ""


class PlanHost(Protocol):
    """What the planner needs from the role it plans for (a `Role` hands it a small view of itself)."""

    name: str
    profile: str
    label: str
    """`Name(Profile)`, for logs."""

    @property
    def llm(self) -> LLM: ...

    @property
    def actions(self) -> list[Action]: ...

    @property
    def system_prompt(self) -> str: ...

    @property
    def todo(self) -> Action | None:
        """The action of the task being run."""

    def start(self, action: Action) -> None:
        """Make `action` the role's todo, for the task about to run."""

    async def act_on_task(self, task: Task) -> TaskResult:
        """Run one task with the todo (the role's `_act_on_task`, which subclasses may override)."""

    def remember(self, message: Message) -> None: ...

    def recent(self, k: int) -> list[Message]: ...

    def to_message(self, result: Any, cause_by: Action) -> Message:
        """Wrap an action's result as the role does (documents are saved)."""


class Planner:
    """Runs one goal for a role: plan, act on each task, re-plan after a failure."""

    def __init__(self, role: PlanHost, goal: str, max_replans: int = 1):
        self.role = role
        self.goal = goal
        self.max_replans = max_replans
        self.plan = Plan(goal=goal)
        self.finished: list[tuple[Task, TaskResult]] = []

    async def run(self) -> Message:
        role = self.role
        await self.make_plan()
        replans = 0
        last: Message | None = None
        while self.plan.tasks:
            task = self.plan.tasks.pop(0)
            role.start(self._action(task.action))
            logger.info(f"{role.label}: task {task.task_id} ({task.action}): {task.instruction[:60]}")
            outcome = await role.act_on_task(task)
            if outcome.is_success:
                self.finished.append((task, outcome))
                last = Message(outcome.result, role=role.profile, cause_by=role.todo, sent_from=role.name)
                role.remember(last)
                continue
            logger.warning(f"{role.label}: task {task.task_id} failed: {outcome.result[:200]}")
            if replans >= self.max_replans:
                failure = f"Task {task.task_id} ({task.instruction}) failed after {replans} re-plans: {outcome.result}"
                return Message(failure, role=role.profile, cause_by=role.todo, sent_from=role.name)
            replans += 1
            await self.make_plan(failed=(task, outcome))
        return last or Message("The plan had no tasks.", role=role.profile, sent_from=role.name)

    async def make_plan(self, failed: tuple[Task, TaskResult] | None = None) -> Plan:
        """Ask the model for the (remaining) tasks; the plan keeps what is finished."""
        role = self.role
        actions = "\n".join(f"- {a.name}: {describe(a)}" for a in role.actions)
        progress = ""
        if self.finished:
            done = "\n".join(
                f"- {t.task_id} ({t.action}): {t.instruction} -> {r.result[:300]}" for t, r in self.finished
            )
            progress += f"\n# Finished tasks\n{done}\n"
        if failed is not None:
            task, outcome = failed
            progress += (
                f"\n# Failed task\n- {task.task_id} ({task.action}): {task.instruction}\n"
                f"  error: {outcome.result[:500]}\n"
                "Plan the remaining work again: do not repeat finished tasks; fix or avoid what failed.\n"
            )
        prompt = render_prompt("plan", goal=self.goal, actions=actions, progress=progress, max_tasks=str(MAX_TASKS))
        answer = await role.llm.aask_model(prompt, plan_model([a.name for a in role.actions]), [role.system_prompt])
        self.plan = Plan(goal=self.goal, tasks=[Task(**t.model_dump()) for t in answer.tasks])  # type: ignore[attr-defined]  # plan_model's model
        logger.info(f"{role.label}: plan: " + "; ".join(f"{t.task_id}. {t.action}" for t in self.plan.tasks))
        return self.plan

    def _action(self, name: str) -> Action:
        return next(action for action in self.role.actions if action.name == name)

    @staticmethod
    async def default_act_on_task(role: PlanHost, task: Task) -> TaskResult:
        """Run the task's action on one text: the goal, finished results and the instruction.

        A model that keeps answering in the wrong shape fails the task (and re-plans); any
        other exception is a bug and stops the run.
        """
        planner_context = "\n".join(f"{m.role}: {m.content}" for m in role.recent(10))
        text = f"{planner_context}\n\nYour task now: {task.instruction}".strip()
        todo = role.todo
        assert todo is not None, "the planner starts the task's action before running it"
        try:
            result = await todo.run(text)
        except ModelBehaviorError as exc:
            return TaskResult(result=str(exc), is_success=False)
        return TaskResult(result=role.to_message(result, todo).content)
