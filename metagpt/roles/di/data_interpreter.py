"""`DataInterpreter`: instruction -> plan -> code -> run -> result, in a sandboxed IPython kernel.

    di = DataInterpreter(tools=["call_json_api", "search_knowledge_base"], store=FaissStore("catalogue.pdf"))
    answer = await di.run("What is the forecast for Paris, and which product suits it?")
    di.outcome.stop_reason  # StopReason.DONE

The loop (`plan_and_act`): the model writes a plan (`InterpreterPlan`: ids, dependencies, task
types; invalid dependencies are sent back once); tasks run in dependency order; for each task
the model writes one cell, which runs in the kernel; a failing cell's error tail goes back to
the model, at most `MAX_CODE_ATTEMPTS` cells per task; then the plan is remade around the
failure, at most `MAX_REPLANS` times; then the run stops with a stop reason. Every model call
goes through `LLM`, so the budget is checked before each. The kernel and the tool bridge are
always shut down, also on errors and Ctrl-C. Results: `notebook.ipynb`, `plan.json`,
`figures/`, `docs/interpreter.md` and the project report, in the project folder.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from enum import Enum
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import BaseModel, Field

from metagpt.actions.di.execute_nb_code import ExecuteNbCode
from metagpt.actions.di.kernel import KERNEL_DIR, SandboxedKernel
from metagpt.actions.di.write_plan import PlanTask, ordered, write_plan
from metagpt.exceptions import ModelBehaviorError, NoMoneyException
from metagpt.experience.records import Cost
from metagpt.prompts import load_prompt, render_prompt
from metagpt.roles.role import Role, RoleReactMode
from metagpt.schema import Message

ERROR_TAIL = 2000
"""Characters of a failing cell's output and traceback shown to the model."""
OUTPUT_IN_PROMPT = 1500
"""Characters of each finished task's output shown in later prompts."""


class StopReason(str, Enum):
    """Why the interpreter stopped."""

    DONE = "done"
    TASK_FAILED = "task failed after every attempt and re-plan"
    MODEL_OUTPUT = "the model's plan was invalid"
    BUDGET = "the budget ran out"
    INTERRUPTED = "interrupted"


class TaskRecord(BaseModel):
    """A task with what running it gave: shown in later prompts and saved in `plan.json`."""

    task: PlanTask
    status: str = "pending"
    """`pending`, `done` or `failed`."""
    attempts: int = 0
    code: str = ""
    output: str = ""


class Outcome(BaseModel):
    """The run's result: the answer, why it stopped, the tasks and the notes."""

    stop_reason: StopReason = StopReason.DONE
    answer: str = ""
    records: list[TaskRecord] = Field(default_factory=list)
    replans: int = 0
    code_calls: int = 0
    notes: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.stop_reason == StopReason.DONE


def extract_code(text: str) -> str:
    """The first ```python block of an answer (any fenced block; else the whole text)."""
    match = re.search(r"```(?:python|py)?[ \t]*\n(.*?)```", text, re.S)
    return (match.group(1) if match else text).strip("\n")


class DataInterpreter(Role):
    """Carries out an instruction by planning, writing and running code (MetaGPT's role).

    Attributes:
        tools: names of registered tools the code may call (`["<all>"]` for every one).
        store: the knowledge base the `search_knowledge_base` tool searches (a `FaissStore`).
        max_tasks: most tasks in a plan.
        use_reflection: accepted for MetaGPT scripts; failed cells are always fed back.
    """

    name: str = "David"
    profile: str = "DataInterpreter"
    goal: str = "Carry out the user's instruction with code, step by step."
    tools: list[str] = []  # noqa: RUF012  (Declared copies list defaults per instance)
    store: Any = None
    max_tasks: int = 5
    use_reflection: bool = True
    auto_run: bool = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._set_react_mode(RoleReactMode.PLAN_AND_ACT)
        self.outcome: Outcome | None = None
        """The last run's outcome."""
        self.workdir: Path | None = None

    def _get_prefix(self) -> str:
        return self.desc or load_prompt("di_system").strip()

    def _tool_set(self) -> list:
        import metagpt.tools.libs  # noqa: F401  (registers the built-in tools)
        from metagpt.tools.registry import TOOL_REGISTRY

        names = None if "<all>" in self.tools else list(self.tools)
        return TOOL_REGISTRY.select(names)

    def _project_folder(self, goal: str) -> Path:
        project = self.project
        if project is None:
            from metagpt.project_repo import ProjectRepo

            workspace = self.context.config.resolve_workspace()
            project = self.context.project = ProjectRepo(workspace, goal[:30] or "interpreter")
        return project.path

    async def _plan_and_act(self) -> Message:
        goal = "\n".join(m.content for m in self.rc.news).strip()
        config = self.context.config
        workdir = self._project_folder(goal)
        self.workdir = workdir
        tools = self._tool_set()
        kernel = SandboxedKernel(workdir, config.cell_timeout, config.sandbox, config.sandbox_network)
        runner = ExecuteNbCode(kernel, config.allow_pip)
        outcome = Outcome()
        self.outcome = outcome
        from metagpt.tools.bridge import ToolBridge, stub_code
        from metagpt.tools.context import ToolContext, current_tool_context

        bridge = ToolBridge(workdir / KERNEL_DIR / "tools.sock", tools)
        token = current_tool_context.set(ToolContext(config, workdir, self.store))
        try:
            await kernel.start()
            await bridge.start()
            if tools:
                kernel.on_start(stub_code(bridge.socket_path, tools))
                await kernel.execute(stub_code(bridge.socket_path, tools), silent=True)
            await self._loop(goal, runner, tools, outcome)
        except NoMoneyException as exc:
            outcome.stop_reason, outcome.answer = StopReason.BUDGET, str(exc)
            raise
        except ModelBehaviorError as exc:
            outcome.stop_reason, outcome.answer = StopReason.MODEL_OUTPUT, str(exc)
        except (asyncio.CancelledError, KeyboardInterrupt):
            outcome.stop_reason = StopReason.INTERRUPTED
            raise
        finally:
            current_tool_context.reset(token)
            try:
                await asyncio.shield(bridge.stop())
            finally:
                await asyncio.shield(kernel.shutdown())
                outcome.notes += [f"The kernel was restarted {kernel.restarts} time(s)."] if kernel.restarts else []
                self._save(goal, runner, outcome, kernel.isolated)
                if self.context.experience is not None:
                    self.context.experience.flush()
        return Message(outcome.answer, role=self.profile, sent_from=self.name)

    async def _loop(self, goal: str, runner: ExecuteNbCode, tools: list, outcome: Outcome) -> None:
        config = self.context.config
        plan = await write_plan(self.llm, self._get_prefix(), goal, "", self.max_tasks, set())
        queue = [TaskRecord(task=t) for t in ordered(plan)]
        outcome.records = list(queue)
        while queue:
            record = queue.pop(0)
            runner.add_markdown(f"## Task {record.task.task_id} ({record.task.task_type})\n\n{record.task.instruction}")
            if await self._run_task(goal, record, runner, tools, outcome, config.max_code_attempts):
                continue
            if outcome.replans >= config.max_replans:
                outcome.stop_reason = StopReason.TASK_FAILED
                outcome.answer = (
                    f"Stopped: task {record.task.task_id} ({record.task.instruction}) failed {record.attempts} times "
                    f"after {outcome.replans} re-plan(s). Last error:\n{record.output[-ERROR_TAIL:]}"
                )
                return
            outcome.replans += 1
            done = [r for r in outcome.records if r.status == "done"]
            progress = self._progress(done, record)
            plan = await write_plan(
                self.llm, self._get_prefix(), goal, progress, self.max_tasks, {r.task.task_id for r in done}
            )
            fresh = [TaskRecord(task=t) for t in ordered(plan) if t.task_id not in {r.task.task_id for r in done}]
            outcome.records = [r for r in outcome.records if r.status != "pending"] + fresh
            queue = fresh
        done = [r for r in outcome.records if r.status == "done"]
        outcome.answer = done[-1].output.strip() if done else "The plan had no tasks."

    async def _run_task(
        self, goal: str, record: TaskRecord, runner: ExecuteNbCode, tools: list, outcome: Outcome, attempts: int
    ) -> bool:
        from metagpt.tools.registry import TOOL_REGISTRY

        task = record.task
        chosen = TOOL_REGISTRY.recommend(f"{task.task_type} {task.instruction}", k=3, among=tools)
        previous = ""
        for attempt in range(1, attempts + 1):
            prompt = render_prompt(
                "di_code",
                goal=goal,
                plan=self._plan_text(outcome.records),
                finished=self._finished_text(outcome.records) or "(none yet)",
                tools="\n".join(t.prompt() for t in chosen) or "(none)",
                task_id=task.task_id,
                task_type=task.task_type,
                instruction=task.instruction,
                previous=previous,
            )
            code, cost = await self._write_cell(prompt, attempt, task, previous, outcome)
            result = await runner.run(code, label=f"task{task.task_id}")
            failed_before = record.output if attempt > 1 else ""
            record.attempts, record.code, record.output = attempt, code, result.text(ERROR_TAIL)
            if result.ok:
                record.status = "done"
                logger.info(f"{self._setting}: task {task.task_id} done ({attempt} attempt(s))")
                self._learn(prompt, task, code, cost, failed_before)
                return True
            logger.warning(f"{self._setting}: task {task.task_id} attempt {attempt} failed: {result.error}")
            previous = (
                f"\n# Your previous code for this task failed (attempt {attempt} of {attempts})\n"
                f"```python\n{code}\n```\n# Its output and error (the tail)\n```\n{record.output}\n```\n"
                "Fix the code. The kernel keeps the variables the previous cells defined.\n"
            )
        record.status = "failed"
        return False

    async def _write_cell(
        self, prompt: str, attempt: int, task: PlanTask, previous: str, outcome: Outcome
    ) -> tuple[str, Cost | None]:
        """The task's cell: from the experience pool when it is an exact repeat of a cell that ran
        (no call; the kernel still runs it), else from the model, shown the closest examples."""
        pool = self.context.experience
        if pool is None:
            answer = await self.llm.aask(prompt, [self._get_prefix()])
            outcome.code_calls += 1
            return extract_code(answer), None
        messages = self.llm.messages(prompt, [self._get_prefix()])
        reused = pool.reuse("di_task", messages) if attempt == 1 else None
        if reused is not None:
            return reused.result, None
        costs, started = self.context.cost_manager, time.monotonic()
        before = costs.total.model_copy()
        query = f"{task.task_type} {task.instruction}"
        answer = await self.llm.aask(prompt + pool.examples(query, "di_task"), [self._get_prefix()])
        outcome.code_calls += 1
        return extract_code(answer), Cost.between(before, costs.total, time.monotonic() - started)

    def _learn(self, prompt: str, task: PlanTask, code: str, cost: Cost | None, failed_before: str) -> None:
        """The cell ran: store it (a new one, not a reuse) and, after a failed attempt, the lesson."""
        pool = self.context.experience
        if pool is None or cost is None:
            return
        source = f"{self.project.path.name if self.project else 'interpreter'}: task {task.task_id}"
        query = f"{task.task_type} {task.instruction}"
        messages = self.llm.messages(prompt, [self._get_prefix()])
        if not failed_before:
            pool.record("di_task", messages, query, code, "the cell ran without an error", cost, source)
        else:
            pool.lesson("di_task", query, failed_before[-1500:], code, "the fixed cell ran without an error", source)

    @staticmethod
    def _plan_text(records: list[TaskRecord]) -> str:
        return "\n".join(
            f"- [{r.status}] {r.task.task_id} ({r.task.task_type}, needs {r.task.dependent_task_ids or 'nothing'}): "
            f"{r.task.instruction}"
            for r in records
        )

    @staticmethod
    def _finished_text(records: list[TaskRecord]) -> str:
        parts = []
        for r in records:
            if r.status == "done":
                output = r.output[-OUTPUT_IN_PROMPT:]
                parts.append(f"## Task {r.task.task_id}\n```python\n{r.code}\n```\nOutput:\n```\n{output}\n```")
        return "\n".join(parts)

    def _progress(self, done: list[TaskRecord], failed: TaskRecord) -> str:
        finished = "\n".join(f"- {r.task.task_id}: {r.task.instruction} -> {r.output[-300:]}" for r in done)
        return (
            f"\n# Finished tasks (keep their ids; new tasks may depend on them)\n{finished or '(none)'}\n"
            f"\n# Failed task\n- {failed.task.task_id}: {failed.task.instruction}\n"
            f"  last error: {failed.output[-800:]}\n"
            "Plan the remaining work again, with new task ids: fix or avoid what failed.\n"
        )

    def _save(self, goal: str, runner: ExecuteNbCode, outcome: Outcome, isolated: bool) -> None:
        """Write the notebook, the figures, `plan.json`, the report section and the report."""
        from metagpt.actions.di.report_section import interpreter_markdown
        from metagpt.report import write_report

        project = self.project
        if project is None:
            return
        try:
            project.write("notebook.ipynb", runner.notebook_json())
            for name, data in runner.figures.items():
                project.write_bytes(name, data)
            plan = {
                "instruction": goal,
                "stop_reason": outcome.stop_reason.name,
                "replans": outcome.replans,
                "code_calls": outcome.code_calls,
                "isolated": isolated,
                "tasks": [r.model_dump(mode="json") for r in outcome.records],
                "answer": outcome.answer,
                "notes": outcome.notes,
            }
            project.write("plan.json", json.dumps(plan, indent=2, ensure_ascii=False) + "\n")
            project.write("docs/interpreter.md", interpreter_markdown(goal, outcome, isolated), reserved=True)
            write_report(project, self.context.cost_manager, self.context.config)
        except OSError as exc:
            logger.warning(f"Could not save the interpreter's results: {exc}")
