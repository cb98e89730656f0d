"""The agent's trace: `steps.jsonl` (one step a line, appended as it happens) and its report section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metagpt.roles.di.agent.memory import StepRecord
from metagpt.utils.atomic import append_line

STEPS_FILE = "steps.jsonl"


def append_step(folder: Path, step: StepRecord) -> None:
    """Add one step to `folder/steps.jsonl` (secrets masked, one write per line)."""
    from metagpt.logs import redact

    append_line(Path(folder) / STEPS_FILE, redact(json.dumps(step.model_dump(mode="json"), ensure_ascii=False)))


def read_steps(folder: Path) -> list[dict[str, Any]]:
    """The steps of `folder/steps.jsonl`; a last line cut short by a crash is skipped."""
    from metagpt.utils.safe_read import read_text

    steps = []
    for line in read_text(Path(folder), STEPS_FILE, 64 << 20).splitlines():
        try:
            steps.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return steps


def _fence(text: str) -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


def agent_markdown(goal: str, outcome: Any, plan: list[dict], steps: list[StepRecord]) -> str:
    """`docs/agent.md`: the goal, how the run ended, the plan with its self-checks, every step.

    `outcome` is the agent's `AgentOutcome` (not imported: the role imports this module).
    """
    lines = [
        "# Agent",
        "",
        f"**Goal:** {goal}",
        "",
        f"**Stopped:** {outcome.stop_reason.value} after {outcome.steps} step(s), {outcome.calls} call(s), "
        f"${outcome.dollars:.4f}. {outcome.detail}".rstrip(),
        "",
        "## Plan",
        "",
        "| id | status | task | self-check |",
        "| --- | --- | --- | --- |",
    ]
    for task in plan:
        check = task.get("check") or {}
        verdict = ("meets it: " if check.get("meets_task") else "") + str(check.get("evidence", ""))
        cells = [task["task_id"], task["status"], task["instruction"], verdict or "-"]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    lines += ["", "## Steps"]
    for step in steps:
        lines += ["", _fence(step.verbatim())]
    return "\n".join(lines) + "\n"
