"""`metagpt experience rebuild`: the pool again, from the projects' journals and their QA reports.

A project counts only when its `docs/qa_report.md` says the last test run passed. Its code steps
are the Engineer's first `WriteCode` request per file (the exact inputs, as journaled, redacted,
without any examples shown), the model family of the call that answered it, what the file's calls
cost, and the file as it is now (what the tests passed). Each failed test run pinned on a code
file that was then fixed gives a lesson, its error taken from the fix request's pytest output.
Records of other kinds (interpreter cells, agent steps) are kept as they are.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from loguru import logger

from metagpt.const import STATE_DB
from metagpt.experience.learn import error_summary
from metagpt.experience.pool import ExperiencePool
from metagpt.experience.records import Cost, Experience, code_task, lesson_key, model_family, step_key
from metagpt.utils.safe_read import UnsafeFile, read_text

_RESULT = re.compile(r"^\*\*Result: (.*)\*\*$", re.M)
_ROW = re.compile(r"^\| (\d+) \| (.*?) \| (.*?) \| (.*?) \| (.*?) \|$", re.M)
_OUTPUT = re.compile(r"# pytest output\n```\n(.*?)\n```\n", re.S)
_TARGET_PROMPT = re.compile(r"write the complete code of `([^`]+)`")


def rebuild(pool: ExperiencePool, workspace: Path) -> tuple[int, int]:
    """Replace the pool's company records with those rebuilt from `workspace`; (projects used, records)."""
    records: list[Experience] = [r for r in pool.records() if r.step != "write_code"]
    used = 0
    for journal in sorted(workspace.glob(f"*/{STATE_DB}")):
        project = journal.parents[1]
        found = project_records(project, journal)
        if found:
            used += 1
            records += found
    kept = pool.replace_all(records)
    return used, len(kept)


def project_records(project: Path, journal: Path) -> list[Experience]:
    """The confirmed code steps and lessons of one project; none unless its tests passed."""
    try:
        report = read_text(project, "docs/qa_report.md")
    except (UnsafeFile, OSError):
        return []
    result = _RESULT.search(report)
    if result is None or not result.group(1).startswith("passed"):
        return []
    outcome = "QA " + result.group(1).split("(", 1)[-1].split(")", 1)[0] if "(" in result.group(1) else "QA passed"
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        calls = db.execute(
            "SELECT run_id, action, target, model, request, prompt_tokens, completion_tokens, cost, latency_ms"
            " FROM calls WHERE status = 'ok' AND action IN ('WriteCode', 'DebugError') ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    firsts: dict[str, tuple] = {}
    costs: dict[str, Cost] = {}
    fixes: dict[str, str] = {}
    for run_id, action, target, model, request, prompt_tokens, completion_tokens, cost, ms in calls:
        messages = json.loads(request or "{}").get("messages", [])
        if action == "DebugError":
            match = _OUTPUT.search(messages[-1]["content"]) if messages else None
            fixes.setdefault(target, match.group(1) if match else "")
            continue
        if len(messages) == 2 and _TARGET_PROMPT.search(messages[-1]["content"] or ""):
            firsts[target] = (run_id, model, messages)  # the latest run's first request wins
        c = costs.setdefault(f"{run_id}/{target}", Cost())
        c.calls += 1
        c.prompt_tokens += prompt_tokens or 0
        c.completion_tokens += completion_tokens or 0
        c.dollars += cost or 0.0
        c.seconds += (ms or 0.0) / 1000
    records: list[Experience] = []
    finals: dict[str, str] = {}
    for target, (run_id, model, messages) in firsts.items():
        path = code_file(project, target)
        if path is None:
            continue
        finals[target] = read_text(project, path)
        tasks = messages[-1]["content"]
        family = model_family(model or "")
        records.append(Experience(
            key=step_key("write_code", family, messages), step="write_code", family=family,
            task=code_task(target, _tasks_section(tasks)), result=finals[target], outcome=outcome,
            cost=costs.get(f"{run_id}/{target}", Cost()), source=f"{project.name} run {run_id}",
        ))  # fmt: skip
    for _, _, fault, send_to, why in _ROW.findall(report):
        target = fault.split("/", 1)[-1]
        if send_to != "Engineer" or target not in finals:
            continue
        error = error_summary(why, fixes.get(target, ""))
        records.append(Experience(
            key=lesson_key("write_code", error, finals[target]), kind="lesson", step="write_code",
            family=records[0].family if records else "", task=f"Write {target}", error=error, fix=finals[target],
            outcome=outcome, source=f"{project.name} (rebuilt)",
        ))  # fmt: skip
    logger.debug(f"experience rebuild: {project.name}: {len(records)} record(s)")
    return records


def code_file(project: Path, target: str) -> str | None:
    """The project-relative path of the package file `target` (not under tests/ or docs/)."""
    for candidate in sorted(project.glob(f"*/{target}")):
        relative = candidate.relative_to(project).as_posix()
        if relative.split("/", 1)[0] not in ("tests", "docs", ".metagpt", ".git") and candidate.is_file():
            return relative
    return None


def _tasks_section(prompt: str) -> str:
    """The design and task list of a `write_code` prompt, which `code_task` indexes."""
    match = re.search(r"# Context\n(.*?)\n# Code of the files it uses", prompt, re.S)
    return (match.group(1) if match else prompt).strip()
