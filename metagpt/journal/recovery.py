"""Tidying what a killed run left in a project folder before it resumes."""

from __future__ import annotations

import os
from pathlib import Path

from loguru import logger

from metagpt.utils.atomic import remove_leftovers


def git_lock_held(project: Path) -> bool:
    """True while a `git` process works in `project` (it may hold `.git/index.lock`)."""
    target = project.resolve()
    for pid in filter(str.isdigit, os.listdir("/proc") if os.path.isdir("/proc") else []):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "git":
                continue
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue
        if cwd == target or target in cwd.parents:
            return True
    return False


def clear_stale_git_lock(project: Path) -> bool:
    """Remove `.git/index.lock` when no git process holds it; True when one was removed."""
    lock = project / ".git" / "index.lock"
    if not lock.is_file() or lock.is_symlink() or git_lock_held(project):
        return False
    lock.unlink()
    logger.info(f"Removed a stale {lock} left by an interrupted git command.")
    return True


def tidy(project: Path) -> None:
    """Remove a crash's temporary files and a stale git lock from `project`."""
    for leftover in remove_leftovers(project):
        logger.debug(f"removed the leftover {leftover}")
    clear_stale_git_lock(project)
