"""Tidying what a killed run left in a project folder before it resumes."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from metagpt.utils.atomic import remove_leftovers
from metagpt.utils.git_history import GitHistory


def tidy(project: Path) -> None:
    """Remove a crash's temporary files and a stale git lock (no git process holds it) from `project`."""
    for leftover in remove_leftovers(project):
        logger.debug(f"removed the leftover {leftover}")
    GitHistory(project).clear_stale_lock()
