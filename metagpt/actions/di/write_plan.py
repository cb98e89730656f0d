"""The interpreter's plan: tasks with ids, dependencies and a task type, validated and ordered.

The model answers with an `InterpreterPlan` (a pydantic model, so the schema goes to the model
and, on the embedded model, into its grammar). A plan whose dependencies name unknown tasks or
form a cycle is sent back once with the problems; a second bad plan is a `ModelBehaviorError`.
"""

from __future__ import annotations

from collections.abc import Set
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from metagpt.exceptions import ModelBehaviorError
from metagpt.prompts import render_prompt

if TYPE_CHECKING:
    from metagpt.llm import LLM

TaskType = Literal[
    "data preprocessing",
    "eda",
    "feature engineering",
    "model train",
    "model evaluate",
    "api call",
    "knowledge search",
    "web search",
    "calculation",
    "report",
    "other",
]
"""MetaGPT's task types, plus the ones the interpreter's tools serve."""


class PlanTask(BaseModel):
    """One step of the interpreter's plan."""

    task_id: str = Field(description="A short unique id, e.g. '1'.", examples=["1"])
    dependent_task_ids: list[str] = Field(
        default_factory=list, description="Ids of the tasks whose results this one needs.", examples=[[]]
    )
    instruction: str = Field(
        description="What this task's code must do, precisely.",
        min_length=1,
        examples=["Load the data and print a summary."],
    )
    task_type: TaskType = Field(description="The kind of work.", examples=["other"])


class InterpreterPlan(BaseModel):
    """The tasks for an instruction."""

    tasks: list[PlanTask] = Field(min_length=1, description="The tasks, each depending only on earlier ones.")


def plan_problems(plan: InterpreterPlan, known: Set[str] = frozenset()) -> list[str]:
    """What is wrong with the plan's ids and dependencies (empty when nothing).

    `known` are ids of tasks already finished, which new tasks may depend on.
    """
    problems: list[str] = []
    ids = [t.task_id for t in plan.tasks]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"task id {dup!r} is used more than once")
    names = set(ids) | set(known)
    for task in plan.tasks:
        for dep in task.dependent_task_ids:
            if dep not in names:
                problems.append(f"task {task.task_id} depends on unknown task {dep!r}")
            elif dep == task.task_id:
                problems.append(f"task {task.task_id} depends on itself")
    if not problems and _has_cycle(plan):
        problems.append("the dependencies form a cycle: " + ", ".join(_cycle_ids(plan)))
    return problems


def _edges(plan: InterpreterPlan) -> dict[str, list[str]]:
    ids = {t.task_id for t in plan.tasks}
    return {t.task_id: [d for d in t.dependent_task_ids if d in ids] for t in plan.tasks}


def _cycle_ids(plan: InterpreterPlan) -> list[str]:
    edges = _edges(plan)
    remaining = dict(edges)
    changed = True
    while changed:
        changed = False
        for node in list(remaining):
            if all(d not in remaining for d in remaining[node]):
                del remaining[node]
                changed = True
    return sorted(remaining)


def _has_cycle(plan: InterpreterPlan) -> bool:
    return bool(_cycle_ids(plan))


def ordered(plan: InterpreterPlan) -> list[PlanTask]:
    """The tasks in dependency order (a valid plan's order kept where it allows)."""
    edges = _edges(plan)
    done: set[str] = set()
    order: list[PlanTask] = []
    pending = list(plan.tasks)
    while pending:
        ready = next((t for t in pending if all(d in done for d in edges[t.task_id])), None)
        if ready is None:
            raise ValueError("the plan has a cycle")  # plan_problems rejects these first
        pending.remove(ready)
        done.add(ready.task_id)
        order.append(ready)
    return order


async def write_plan(
    llm: LLM, system: str, goal: str, progress: str, max_tasks: int, known: set[str]
) -> InterpreterPlan:
    """Ask for a plan; a plan with bad ids or dependencies goes back once with its problems.

    Raises:
        ModelBehaviorError: the model's plan is still invalid, or it never answered a valid one.
    """
    prompt = render_prompt("di_plan", goal=goal, progress=progress, max_tasks=str(max_tasks))
    plan = await llm.aask_model(prompt, InterpreterPlan, [system])
    problems = plan_problems(plan, known) or _too_long(plan, max_tasks)
    if problems:
        fix = f"{prompt}\n\n# Your previous plan was invalid\n" + "\n".join(f"- {p}" for p in problems)
        fix += "\nWrite the plan again, fixing these problems."
        plan = await llm.aask_model(fix, InterpreterPlan, [system])
        problems = plan_problems(plan, known) or _too_long(plan, max_tasks)
        if problems:
            raise ModelBehaviorError(
                f"The model's plan is invalid twice ({'; '.join(problems)}). Try a stronger model (OPENAI_API_MODEL)."
            )
    return plan


def _too_long(plan: InterpreterPlan, max_tasks: int) -> list[str]:
    n = len(plan.tasks)
    return [f"the plan has {n} tasks; at most {max_tasks} are allowed"] if n > max_tasks else []
