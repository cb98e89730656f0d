"""What a finished company run teaches the pool, decided by QA's test runs alone.

When the last test run passed, every code file the Engineer wrote in this run is stored with its
final content (what the tests passed) and what writing it cost, from the journal. Each earlier
run that failed on a code file, which the Engineer then fixed, becomes a lesson: the error and
the fixed file. A run whose tests did not pass stores nothing, whatever the model said of it, and a reused file
its failing tests were pinned on is removed from the pool.

The verdict is the in-memory report of the check the parent ran (QA's sandboxed test runs), never
the project's `docs/qa_report.md` or its journal, which code running in the project could write.
What is stored is signed (`trust`) and also appended, signed, to the project's
`.metagpt/experience.jsonl`: the evidence `metagpt experience rebuild` reads back.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from loguru import logger

from metagpt.const import STATE_DIR
from metagpt.experience.records import Cost, Experience
from metagpt.experience.session import ExperienceSession
from metagpt.experience.trust import Signer
from metagpt.utils.atomic import append_line
from metagpt.utils.safe_read import UnsafeFile, read_text

EVIDENCE = f"{STATE_DIR}/experience.jsonl"
"""A project's signed copy of the records its confirmed runs stored (what `rebuild` reads)."""

ERROR_LINES = 12
"""Lines of pytest's failure output a lesson keeps."""


def step_cost(db: sqlite3.Connection | None, run_id: str | None, action: str, target: str) -> Cost:
    """The calls the journal recorded for `action` on `target` in `run_id`, summed."""
    if db is None or run_id is None:
        return Cost()
    row = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),"
        " COALESCE(SUM(cost), 0), COALESCE(SUM(latency_ms), 0) FROM calls"
        " WHERE run_id = ? AND action = ? AND target = ? AND status = 'ok'",
        (run_id, action, target),
    ).fetchone()
    return Cost(calls=row[0], prompt_tokens=row[1], completion_tokens=row[2], dollars=row[3], seconds=row[4] / 1000)


def error_summary(reason: str, output: str) -> str:
    """The failure in a few lines: why, and the `E ...` lines (or the tail) of pytest's output."""
    lines = [line for line in output.splitlines() if re.match(r"^E\s", line) or "Error" in line]
    tail = lines[:ERROR_LINES] or output.splitlines()[-ERROR_LINES:]
    return f"{reason}\n" + "\n".join(tail)


def forget_failed_reuse(session: ExperienceSession, report: Any, package: str) -> None:
    """A reused file the failing tests were pinned on no longer counts as confirmed: it is removed."""
    at_fault = {run.file_to_fix for run in (report.runs if report is not None else []) if not run.ok}
    keys = {p.key for t, p in session.pending.items() if p.reused and f"{package}/{t}" in at_fault}
    if keys:
        removed = session.pool.remove(keys)
        logger.info(f"experience pool: {removed} reused record(s) removed: the tests failed on them")


def learn_from_qa(
    session: ExperienceSession, report: Any, package: str, project: Path, db: sqlite3.Connection | None,
    run_id: str | None,
) -> int:  # fmt: skip
    """Store the run's code steps and lessons if QA's last run passed; returns the records written."""
    if report is None or not report.passed:
        forget_failed_reuse(session, report, package)
        session.pending.clear()
        return 0
    source = f"{project.name} run {run_id or '-'}"
    outcome = f"QA {report.runs[-1].summary}"
    results: dict[str, tuple[str, Cost]] = {}
    for target in list(session.pending):
        try:
            code = read_text(project, f"{package}/{target}")
        except (UnsafeFile, OSError) as error:
            logger.debug(f"experience pool: {target} not stored: {error}")
            continue
        results[target] = (code, step_cost(db, run_id, "WriteCode", target))
    tasks = {t: p.task for t, p in session.pending.items()}
    before = len(session.written)
    stored = session.confirm(results, outcome, source)
    prefix = f"{package}/"
    for run in report.runs[:-1]:
        target = run.file_to_fix[len(prefix) :] if run.file_to_fix.startswith(prefix) else ""
        if run.ok or run.send_to != "Engineer" or target not in results:
            continue
        task = tasks.get(target, f"Write {target}")
        session.lesson("write_code", task, error_summary(run.reason, run.output), results[target][0], outcome, source)
        stored += 1
    keep_evidence(project, session.written[before:], session.pool.signer)
    logger.info(f"experience pool: {stored} record(s) stored from a run whose tests passed")
    return stored


def keep_evidence(project: Path, records: list[Experience], signer: Signer) -> None:
    """Append `records`, signed, to the project's evidence file, in one write."""
    if not records:
        return
    (project / STATE_DIR).mkdir(exist_ok=True)
    lines = [signer.sign(r.redacted()).model_dump_json() for r in records]
    append_line(project / EVIDENCE, "\n".join(lines))
