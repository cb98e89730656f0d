"""The interpreter's section of the project report (`docs/interpreter.md`): plan, cells, answer."""

from __future__ import annotations

from typing import Any


def _fence(text: str, language: str = "") -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def interpreter_markdown(goal: str, outcome: Any, isolated: bool) -> str:
    """Markdown the report renders: the instruction, the plan table, each task's cell and output.

    `outcome` is the interpreter's `Outcome` (not imported: the role imports this module).
    """
    lines = [
        "# Interpreter",
        "",
        f"**Instruction:** {goal}",
        "",
        f"**Stopped:** {outcome.stop_reason.value} ({outcome.code_calls} code call(s), {outcome.replans} re-plan(s); "
        f"the kernel ran {'isolated by bubblewrap' if isolated else 'under limits only, not isolated'}).",
        "",
        "## Plan",
        "",
        "| id | type | needs | status | attempts | instruction |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in outcome.records:
        needs = ", ".join(r.task.dependent_task_ids) or "-"
        text = r.task.instruction.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r.task.task_id} | {r.task.task_type} | {needs} | {r.status} | {r.attempts} | {text} |")
    for r in outcome.records:
        if r.code:
            lines += [
                "",
                f"## Task {r.task.task_id}",
                "",
                _fence(r.code, "python"),
                "",
                "Output:",
                "",
                _fence(r.output),
            ]
    lines += ["", "## Answer", "", _fence(outcome.answer)]
    lines += [f"- {note}" for note in outcome.notes]
    return "\n".join(lines) + "\n"
