"""Resuming whatever a project's last run was: a new project's run, or a change to it (`--inc`).

company = resume_project("workspace/calculator")
await company.run()
"""

from __future__ import annotations

from pathlib import Path

from metagpt.configs.settings import Config
from metagpt.const import STATE_DB
from metagpt.incremental.company import ChangeCompany
from metagpt.journal import Journal
from metagpt.software_company import SoftwareCompany


def resume_project(
    path: Path | str, config: Config | None = None, investment: float | str | None = None
) -> SoftwareCompany:
    """The company of the run interrupted in `path`, ready to `run()` (see `SoftwareCompany.resume`
    and `ChangeCompany.resume_change`)."""
    path = Path(path)
    if (path / STATE_DB).is_file():
        journal = Journal(path / STATE_DB)
        try:
            last = journal.last_run()
        finally:
            journal.close()
        if last is not None and last.options.get("incremental") and last.status != "finished":
            return ChangeCompany.resume_change(path, config or Config.default(), investment)
    return SoftwareCompany.resume(path, config, investment)
