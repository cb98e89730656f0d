"""`RoleZero`: an autonomous agent whose every run ends, for a named reason, within its budget.

    agent = RoleZero(context=context, max_steps=30, check="pytest -q")
    await agent.run("Write fizzbuzz.py with tests that pass")
    agent.outcome.stop_reason  # StopReason.FINISHED

The loop, one model call a step: the prompt shows the goal (and its check), the plan with each
task's status, the commands and the memory of earlier steps; the answer is a thought and a
list of commands (`commands.py`: a pydantic model, so the schema goes to the endpoint and, on
the embedded model, into its grammar). The commands run in order; the first that fails stops
the list. An unusable answer is shown to the model with the error in the next step; three in
a row end the run (`parse_failures`). `finish` runs the goal check: it must pass for the run
to be `finished`. Stuck patterns (`agent/stuck.py`) get one nudge; the next time the person at
the terminal is asked, or the run stops (`stuck`). Every model call goes through `LLM`, so the
budget is checked before each (`budget`). Every step is appended to `steps.jsonl` as it ends;
`docs/agent.md` and the project report are written when the run ends, however it ends.
"""

from __future__ import annotations

import asyncio
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger
from pydantic import BaseModel

from metagpt.exceptions import MetaGPTError, NoMoneyException, brief_error
from metagpt.experience.records import Cost
from metagpt.prompts import load_prompt, render_prompt
from metagpt.provider.base import OutputSchema
from metagpt.roles.di.agent.check import GoalCheck
from metagpt.roles.di.agent.commands import AgentAnswer, answer_model, parse_answer, request_schema
from metagpt.roles.di.agent.memory import AgentMemory, Observation, StepRecord
from metagpt.roles.di.agent.stuck import NUDGE, StuckDetector
from metagpt.roles.di.agent.toolbox import FinishRequested, Human, HumanStop, Toolbox, usable_registry_tools
from metagpt.roles.di.agent.trace import agent_markdown, append_step
from metagpt.roles.role import Role, RoleReactMode
from metagpt.schema import Message

if TYPE_CHECKING:
    from metagpt.project_repo import ProjectRepo

MAX_PARSE_FAILURES = 3
"""Unusable answers in a row that end the run."""


class StopReason(str, Enum):
    """Why the agent's run ended; each has its own exit code (`EXIT_CODES`)."""

    FINISHED = "finished"
    CHECK_FAILED = "check_failed"
    MAX_STEPS = "max_steps"
    BUDGET = "budget"
    STUCK = "stuck"
    PARSE_FAILURES = "parse_failures"
    HUMAN_STOP = "human_stop"
    ERROR = "error"


EXIT_CODES = {
    StopReason.FINISHED: 0,
    StopReason.ERROR: 1,
    StopReason.BUDGET: 3,
    StopReason.PARSE_FAILURES: 5,
    StopReason.MAX_STEPS: 6,
    StopReason.CHECK_FAILED: 7,
    StopReason.STUCK: 8,
    StopReason.HUMAN_STOP: 130,
}
"""The CLI's exit code for each stop reason (an `error` from a MetaGPT error uses that error's code)."""


class AgentOutcome(BaseModel):
    """How a run ended."""

    stop_reason: StopReason = StopReason.ERROR
    steps: int = 0
    calls: int = 0
    dollars: float = 0.0
    detail: str = ""
    """What the reason means for this run: the finish reason, the stuck pattern, the error."""
    check_passed: bool | None = None
    """The last goal check's result; None when there was no check or it never ran."""

    def line(self) -> str:
        """The final line the CLI prints."""
        return f"Stopped: {self.stop_reason.value} (steps {self.steps}, calls {self.calls}, ${self.dollars:.4f})" + (
            f": {self.detail}" if self.detail else ""
        )


class _Stop(Exception):
    def __init__(self, reason: StopReason, detail: str = ""):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class RoleZero(Role):
    """MetaGPT's autonomous agent: a goal in, tasks, commands, self-checks, and a loop that always ends.

    Attributes:
        max_steps: most steps (model calls) of a run.
        check: the goal check: a command that must exit 0, or `file:PATH:TEXT`.
        tools: registered tools to offer besides the built-in commands (None: every usable one).
        store: the document store for the knowledge-base tool.
        human: asks the person at the terminal (the CLI sets it); None leaves `ask_human` out.
        human_at_terminal: a person is at a terminal, so a stuck run asks them instead of stopping.
    """

    name: str = "Zero"
    profile: str = "RoleZero"
    goal: str = "Reach the user's goal with commands, checking each result."
    max_steps: int = 30
    check: str | None = None
    tools: list[str] | None = None
    store: Any = None
    human: Any = None
    human_at_terminal: bool = False

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._set_react_mode(RoleReactMode.REACT, max_react_loop=1)
        self.outcome: AgentOutcome | None = None
        self.steps: list[StepRecord] = []
        self.toolbox: Toolbox | None = None
        self.last_prompt = ""
        """The user prompt of the latest step (what the memory cap bounds)."""
        self._experience: dict[str, tuple[str, Cost]] = {}
        """Each step's answer and its cost, for the experience pool once the goal check passed."""
        self._reused_text = ""

    def _get_prefix(self) -> str:
        return self.desc or load_prompt("agent_system").strip()

    def _project(self, goal: str) -> ProjectRepo:
        project = self.project
        if project is None:
            from metagpt.project_repo import ProjectRepo

            project = self.context.project = ProjectRepo(self.context.config.resolve_workspace(), goal[:40] or "agent")
        return project

    @property
    def _folder(self) -> Path:
        """The project folder `_react` opened (`_project`)."""
        if self.project is None:
            raise RuntimeError("the agent's project folder is not open")
        return self.project.path

    async def _react(self) -> Message:
        goal = "\n".join(m.content for m in self.rc.news).strip()
        config = self.context.config
        check = GoalCheck.parse(self.check) if self.check else None
        project = self._project(goal)
        tools = self.tools if self.tools is not None else usable_registry_tools(config, self.store)
        human: Human | None = self.human
        toolbox = Toolbox(project, config, tools, self.store, human)
        self.toolbox, self.steps = toolbox, []
        outcome = AgentOutcome()
        self.outcome = outcome
        start_cost = self.context.cost_manager.total_cost
        self._experience = {}
        try:
            outcome.stop_reason, outcome.detail = await self._loop(goal, check, toolbox, outcome)
        except _Stop as stop:
            outcome.stop_reason, outcome.detail = stop.reason, stop.detail
        except NoMoneyException as exc:
            outcome.stop_reason, outcome.detail = StopReason.BUDGET, str(exc)
        except (asyncio.CancelledError, KeyboardInterrupt):
            outcome.stop_reason, outcome.detail = StopReason.HUMAN_STOP, "interrupted"
            raise
        except MetaGPTError as exc:
            outcome.stop_reason, outcome.detail = StopReason.ERROR, str(exc)
            raise
        except Exception as exc:
            outcome.stop_reason, outcome.detail = StopReason.ERROR, brief_error(exc)
            raise
        finally:
            outcome.dollars = self.context.cost_manager.total_cost - start_cost
            try:
                await asyncio.shield(toolbox.close())
            finally:
                self._save(goal, outcome)
        self._learn(goal, outcome)
        logger.info(f"{self._setting}: {outcome.line()}")
        return Message(outcome.line(), role=self.profile, sent_from=self.name)

    async def _loop(self, goal: str, check: GoalCheck | None, toolbox: Toolbox, outcome: AgentOutcome):
        config = self.context.config
        model = answer_model(list(toolbox.commands.values()))
        schema = OutputSchema(name="AgentAnswer", json_schema=request_schema(model))
        memory = AgentMemory(config.agent_recent_steps, config.agent_memory_tokens, self.llm.provider.model)
        detector = StuckDetector()
        notes: list[str]
        failures, notes = 0, []
        check_text = f"\nThe goal counts as done only when this check passes: {check.spec}\n" if check else ""
        for number in range(1, self.max_steps + 1):
            prompt = render_prompt(
                "agent_step", goal=goal, check=check_text, plan=toolbox.plan.text(), commands=toolbox.prompt(),
                memory=memory.text(), notes="".join(f"\n**{n}**\n" for n in notes), step=str(number),
                max_steps=str(self.max_steps),
            )  # fmt: skip
            notes = []
            messages = [{"role": "system", "content": self._get_prefix()}, {"role": "user", "content": prompt}]
            self.last_prompt = prompt
            spent = self.context.cost_manager.total_cost
            text = await self._answer(messages, schema, goal, number, outcome)
            outcome.steps = number
            calls = 0 if text is None else 1
            step = StepRecord(step=number, calls=calls, dollars=self.context.cost_manager.total_cost - spent)
            text = text if text is not None else self._reused_text
            try:
                answer = parse_answer(text, model)
            except ValueError as exc:
                failures += 1
                step.parse_error, step.answer = str(exc), text
                self._experience.pop(f"step {number}", None)  # an unusable answer is never stored
                self._record(step, memory)
                logger.warning(f"{self._setting}: step {number}: unusable answer ({failures}/{MAX_PARSE_FAILURES})")
                if failures >= MAX_PARSE_FAILURES:
                    return StopReason.PARSE_FAILURES, f"{failures} unusable answers in a row; the last: {exc}"
                continue
            failures = 0
            finished = await self._run_commands(answer, step, toolbox, check, outcome)
            if finished is not None:
                self._record(step, memory)
                return StopReason.FINISHED, finished
            pattern = detector.add(step)
            if pattern is not None:
                note = await self._unstick(pattern, detector)
                step.notes.append(note)
                notes.append(note)
            self._record(step, memory)
        if check is not None:
            result = await check.run(self._folder, config.test_timeout, config.sandbox, config.sandbox_network)
            outcome.check_passed = result.passed
            if not result.passed:
                return StopReason.CHECK_FAILED, f"the check still fails after {self.max_steps} steps: {check.spec}"
            return StopReason.MAX_STEPS, "the check passes, but the agent did not finish"
        return StopReason.MAX_STEPS, f"no finish within {self.max_steps} steps"

    async def _answer(
        self, messages: list[dict[str, str]], schema: OutputSchema, goal: str, number: int, outcome: AgentOutcome
    ) -> str | None:
        """The step's answer from the model (shown the closest examples when the pool is on), or None
        when the pool holds this exact step of a run whose check passed (`_reused_text`, no call)."""
        pool = self.context.experience
        if pool is not None:
            reused = pool.reuse("agent_step", messages)
            pool.propose("agent_step", messages, f"{goal}\nstep {number}", f"step {number}", reused is not None)
            if reused is not None:
                self._reused_text = reused.result
                self._experience[f"step {number}"] = (reused.result, Cost())
                return None
            examples = pool.examples(goal, "agent_step")
            messages = [messages[0], {"role": "user", "content": messages[1]["content"] + examples}]
        spent = self.context.cost_manager.total_cost
        response = await self.llm.acompletion_schema(messages, schema)
        outcome.calls += 1
        self._experience[f"step {number}"] = (
            response.text,
            Cost(calls=1, dollars=self.context.cost_manager.total_cost - spent),
        )
        return response.text

    def _learn(self, goal: str, outcome: AgentOutcome) -> None:
        """The goal check passed: store the run's steps; a failed check fixed later becomes a lesson."""
        pool = self.context.experience
        if pool is None:
            return
        if not outcome.check_passed:
            pool.pending.clear()
        else:
            source = f"{self.project.path.name if self.project else 'agent'}: {outcome.stop_reason.value}"
            results = {t: r for t, r in self._experience.items() if t in pool.pending}
            pool.confirm(results, f"the goal check passed: {self.check}", source)
            failed = [s for s in self.steps if s.check and not s.check.get("passed", False)]
            if failed and self.steps:
                last = self._experience.get(f"step {self.steps[-1].step}", ("", None))[0]
                pool.lesson("agent_step", goal, str((failed[-1].check or {}).get("output", ""))[:1500], last,
                            f"the goal check passed: {self.check}", source)  # fmt: skip
        pool.flush()

    async def _run_commands(
        self, answer: AgentAnswer, step: StepRecord, toolbox: Toolbox, check: GoalCheck | None, outcome: AgentOutcome
    ) -> str | None:
        """Run the answer's commands in order into `step`; the finish reason when the run is finished."""
        config = self.context.config
        step.thought, step.commands = answer.thought, answer.commands
        for call in answer.commands:
            try:
                observation = await toolbox.run(call)
            except HumanStop as stop:
                step.observations.append(Observation(command=call, ok=True, output=f"the human said {stop}"))
                self._record_only(step)
                raise _Stop(StopReason.HUMAN_STOP, "the human asked to stop") from None
            except FinishRequested as finish:
                if check is None:
                    step.observations.append(Observation(command=call, ok=True, output="finished"))
                    return finish.reason
                result = await check.run(self._folder, config.test_timeout, config.sandbox,
                                         config.sandbox_network)  # fmt: skip
                step.check, outcome.check_passed = result.record(check.spec), result.passed
                if result.passed:
                    step.observations.append(Observation(command=call, ok=True, output="the goal check passed"))
                    return finish.reason
                observation = Observation(
                    command=call, ok=False, output=f"not finished: the goal check failed:\n{result.output}"
                )
            step.observations.append(observation)
            if not observation.ok:
                break
        return None

    async def _unstick(self, pattern: str, detector: StuckDetector) -> str:
        """The note for the next prompt after a stuck pattern; raises `_Stop` when the run must end."""
        detector.reset()
        if not detector.nudged:
            detector.nudged = True
            logger.warning(f"{self._setting}: stuck ({pattern}); nudging")
            return f"{NUDGE} (Seen: {pattern}.)"
        if self.human is None or not self.human_at_terminal:
            raise _Stop(StopReason.STUCK, f"{pattern}, again after a nudge")
        answer = await self.human(f"The agent is stuck ({pattern}). Type guidance for it, or 'stop' to end the run:")
        if answer is None or answer.strip().lower() in ("", "stop", "quit", "exit"):
            raise _Stop(StopReason.HUMAN_STOP, f"stuck ({pattern}); the human ended the run")
        return f"A human says: {answer.strip()}"

    def _record(self, step: StepRecord, memory: AgentMemory) -> None:
        self._record_only(step)
        memory.add(step)

    def _record_only(self, step: StepRecord) -> None:
        self.steps.append(step)
        project = self.project
        if project is not None:
            try:
                append_step(project.path, step)
            except OSError as exc:
                logger.warning(f"Could not append step {step.step} to steps.jsonl: {exc}")

    def _save(self, goal: str, outcome: AgentOutcome) -> None:
        """`docs/agent.md`, `agent.json` (plan and self-checks) and the project report."""
        from metagpt.report import write_report

        project, toolbox = self.project, self.toolbox
        if project is None or toolbox is None:
            return
        plan = toolbox.plan.dump()
        summary = {"goal": goal, **outcome.model_dump(mode="json"), "plan": plan, "self_checks": toolbox.plan.checks}
        try:
            project.write("docs/agent.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n", reserved=True)
            project.write("docs/agent.md", agent_markdown(goal, outcome, plan, self.steps), reserved=True)
            write_report(project, self.context.cost_manager, self.context.config)
        except (OSError, MetaGPTError) as exc:
            logger.warning(f"Could not save the agent's results: {exc}")
