"""Stopping a command-line run: SIGINT, SIGTERM and SIGHUP cancel its task, which then reports."""

from __future__ import annotations

import asyncio
import contextlib
import signal

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def cancel_on_stop_signals(task: asyncio.Task | None) -> list[signal.Signals]:
    """Make the first stop signal cancel `task`; returns the list that records which one came.

    Call it from inside the running loop. Where a signal cannot be handled (Windows, a thread
    other than the main one) its default behaviour stays.
    """
    caught: list[signal.Signals] = []
    loop = asyncio.get_running_loop()

    def stop(signum: signal.Signals) -> None:
        if not caught and task is not None:
            caught.append(signum)
            task.cancel()

    for name in STOP_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop, signum)
    return caught
