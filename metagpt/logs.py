"""Logging set-up for the CLI. Importing `metagpt` configures nothing.

Levels used in the package: INFO for progress (role steps, cost), DEBUG for details, TRACE
for full prompts and answers, which only the run's log file receives by default.
"""

from __future__ import annotations

import sys
from pathlib import Path

from loguru import logger

from metagpt.const import LOG_FILE

CONSOLE_FORMAT = "<green>{time:HH:mm:ss}</green> | {message}"
VERBOSE_FORMAT = "<green>{time:HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | {name}:{line} | {message}"


def setup_console(verbose: bool = False) -> None:
    """Progress on stderr: INFO and up, or everything from DEBUG with `verbose`."""
    logger.remove()
    logger.add(
        sys.stderr,
        level="DEBUG" if verbose else "INFO",
        format=VERBOSE_FORMAT if verbose else CONSOLE_FORMAT,
        colorize=None,
        backtrace=verbose,
        diagnose=False,
    )


def add_run_log(folder: Path) -> int:
    """Write the full log of this run, prompts included, to `folder/logs/metagpt.log`."""
    path = folder / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return logger.add(path, level="TRACE", encoding="utf-8", enqueue=False, diagnose=False)
