"""`metagpt experience rebuild`: the pool's company records again, from the projects' signed evidence.

Each project a company ran with the pool writing keeps, in `.metagpt/experience.jsonl`, the
records its passing QA run stored, each signed by the parent process under this user's key
(`learn.keep_evidence`, `trust`). Rebuild reads those files back and uses a record only when its
MAC holds, so it gives back what the live runs stored: the code that passed (not the file as it
is now), its key, its cost and its lessons.

Nothing else in a project folder is evidence: a `docs/qa_report.md` saying passed and journal
rows could have been written by the code that ran there, or the folder copied from another
machine (its records then carry another user's MAC). Such a project gives nothing and is counted
as skipped, as is every record whose MAC fails. Records of other kinds (interpreter cells, agent
steps) are kept as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from pydantic import ValidationError

from metagpt.const import STATE_DIR
from metagpt.experience.learn import EVIDENCE
from metagpt.experience.pool import ExperiencePool
from metagpt.experience.records import Experience
from metagpt.experience.trust import Signer
from metagpt.utils.safe_read import UnsafeFile, read_text

EVIDENCE_LIMIT = 64 << 20
"""Largest evidence file read (64 MiB: thousands of records of at most 20,000 characters)."""
_PASSED = re.compile(r"^\*\*Result: passed", re.M)


@dataclass
class Rebuilt:
    """What `rebuild` did."""

    projects: int = 0
    """Projects whose signed records were used."""
    records: int = 0
    """Records in the pool afterwards."""
    skipped_records: int = 0
    """Evidence records whose MAC does not hold under this user's key (changed, or made elsewhere)."""
    unsigned: int = 0
    """Of those, records with no MAC at all."""
    skipped_projects: int = 0
    """Projects that claim a pass (their QA report) or hold evidence, but gave no record signed here."""


def rebuild(pool: ExperiencePool, workspace: Path) -> Rebuilt:
    """Replace the pool's company records with the signed evidence of `workspace`'s projects."""
    records: list[Experience] = [r for r in pool.records() if r.step != "write_code"]
    done = Rebuilt()
    for project in projects(workspace):
        found, skipped, unsigned = project_records(project, pool.signer)
        done.skipped_records += skipped
        done.unsigned += unsigned
        if found:
            done.projects += 1
            records += found
        elif skipped or claims_a_pass(project):
            done.skipped_projects += 1
            logger.info(f"experience rebuild: {project.name}: no record signed by this user's runs, skipped")
    done.records = len(pool.replace_all(records))
    return done


def projects(workspace: Path) -> list[Path]:
    """The workspace's project folders (a folder with MetaGPT state or a QA report; never a link)."""
    try:
        folders = sorted(p for p in Path(workspace).iterdir() if not p.name.startswith("."))
    except OSError:
        return []
    return [p for p in folders if not p.is_symlink() and p.is_dir() and _has_state(p)]


def _has_state(folder: Path) -> bool:
    return (folder / STATE_DIR).is_dir() or (folder / "docs" / "qa_report.md").is_file()


def project_records(project: Path, signer: Signer) -> tuple[list[Experience], int, int]:
    """The records of `project`'s evidence whose MAC holds; (records, skipped, of which unsigned)."""
    try:
        text = read_text(project, EVIDENCE, limit=EVIDENCE_LIMIT)
    except (UnsafeFile, OSError) as error:
        logger.debug(f"experience rebuild: {project.name}: no evidence: {error}")
        return [], 0, 0
    records: list[Experience] = []
    skipped = unsigned = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = Experience.model_validate_json(line)
        except (ValidationError, ValueError):
            continue  # the end of a write cut by a crash
        if signer.verify(record):
            records.append(record)
        else:
            skipped += 1
            unsigned += not record.mac
    logger.debug(f"experience rebuild: {project.name}: {len(records)} record(s), {skipped} skipped")
    return records, skipped, unsigned


def claims_a_pass(project: Path) -> bool:
    """The project's QA report says passed: only ever used to count a project as skipped."""
    try:
        return bool(_PASSED.search(read_text(project, "docs/qa_report.md")))
    except (UnsafeFile, OSError):
        return False
