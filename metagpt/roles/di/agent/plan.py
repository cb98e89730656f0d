"""The agent's plan: tasks it appends, replaces and finishes, each finish with a structured self-check."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from metagpt.roles.di.agent.commands import ToolFailure

MAX_TASKS = 30
"""Most tasks a plan may hold; a plan is a summary of the work, not a log of it."""


class SelfCheck(BaseModel):
    """The agent's own verdict on a task's result, recorded when it finishes the task."""

    meets_task: bool
    evidence: str = ""


class AgentTask(BaseModel):
    """One task of the agent's plan."""

    task_id: str
    instruction: str
    status: Literal["pending", "current", "done"] = "pending"
    result: str = ""
    check: SelfCheck | None = None


class Plan:
    """The agent's task list; the first unfinished task is the current one."""

    def __init__(self) -> None:
        self.tasks: list[AgentTask] = []
        self.checks: list[dict] = []
        """Every self-check recorded, passed or not, in order (for the trace)."""

    @property
    def current(self) -> AgentTask | None:
        return next((t for t in self.tasks if t.status != "done"), None)

    def _mark(self) -> None:
        current = self.current
        for task in self.tasks:
            if task.status == "current" and task is not current:
                task.status = "pending"
        if current is not None:
            current.status = "current"

    def append_task(self, instruction: str) -> str:
        """Add a task at the end of the plan.

        Args:
            instruction: what the task must achieve, concretely (a file, a value, a passing test).
        """
        if not instruction.strip():
            raise ToolFailure("the instruction is empty; say what the task must achieve")
        if len(self.tasks) >= MAX_TASKS:
            raise ToolFailure(f"the plan already has {MAX_TASKS} tasks; replace one instead")
        task_id = str(len(self.tasks) + 1)
        self.tasks.append(AgentTask(task_id=task_id, instruction=instruction.strip()))
        self._mark()
        return f"added task {task_id}"

    def replace_task(self, task_id: str, instruction: str) -> str:
        """Replace a task's instruction; the task becomes unfinished again.

        Args:
            task_id: the id of the task, as the plan shows it.
            instruction: the new instruction.
        """
        task = next((t for t in self.tasks if t.task_id == str(task_id)), None)
        if task is None:
            known = ", ".join(t.task_id for t in self.tasks) or "none yet"
            raise ToolFailure(f"no task {task_id!r} (tasks: {known})")
        if not instruction.strip():
            raise ToolFailure("the instruction is empty")
        task.instruction, task.status, task.result, task.check = instruction.strip(), "pending", "", None
        self._mark()
        return f"replaced task {task.task_id}"

    def finish_current_task(self, result: str, meets_task: bool, evidence: str) -> str:
        """Finish the current task, checking its result against the task first.

        Args:
            result: what the task produced (a file, a value, an outcome).
            meets_task: whether the result really meets the task's instruction.
            evidence: what shows it (a command's output, a file's content you read back).
        """
        task = self.current
        if task is None:
            raise ToolFailure("there is no unfinished task; append one first")
        check = SelfCheck(meets_task=bool(meets_task), evidence=evidence)
        self.checks.append({"task_id": task.task_id, "result": result, **check.model_dump()})
        if not check.meets_task:
            raise ToolFailure(f"task {task.task_id} stays unfinished: your check says its result does not meet it")
        task.status, task.result, task.check = "done", result, check
        self._mark()
        following = self.current
        after = f"; current task: {following.task_id}" if following else "; no tasks left"
        return f"task {task.task_id} done{after}"

    def text(self) -> str:
        """The plan as the prompt shows it, one task a line with its status."""
        if not self.tasks:
            return "(no tasks yet: start by appending the tasks the goal needs)"
        return "\n".join(f"- [{t.status}] {t.task_id}: {t.instruction}" for t in self.tasks)

    def dump(self) -> list[dict]:
        return [t.model_dump(mode="json") for t in self.tasks]
