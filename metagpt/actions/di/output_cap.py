"""Runs inside the kernel, before any cell: bounds what a cell's printing sends to us.

`SandboxedKernel` sends this file's source to every kernel it starts (the kernel may not be able
to import metagpt) and calls `install`. ipykernel's `OutStream` (`sys.stdout`, `sys.stderr`, and
what reaches file descriptors 1 and 2) buffers whatever a cell writes between two flushes and
sends it as one IOPub message: a cell printing in a loop sends messages of tens of MB, which
pile up in our process faster than we read them. After `install`, the two streams:

- send at most `budget` characters of a cell's output (both streams together), then one line
  saying the rest is not sent, and drop what follows; the parent, having seen more than its
  flood limit, interrupts the cell;
- flush as soon as `chunk` characters are buffered, waiting for the send, so no IOPub message
  carries much more than `chunk` and the cell cannot write faster than the kernel sends.

Both hooks sit below `OutStream.write` (IPython replaces `write` on the stream object during
each cell, to keep a copy for its history), on ipykernel 7's `_schedule_flush` and
`_flush_buffers`; with an ipykernel that lacks them `install` changes nothing. This is no
security boundary: a cell can undo it. The parent keeps its own bounds; this only stops a cell
that floods by mistake from making us receive all of it.
"""

from __future__ import annotations

import sys
import threading
from io import StringIO


def install(budget: int, chunk: int) -> None:
    """Swap the class of `sys.stdout` and `sys.stderr` for one that caps and chunks what they send."""
    base = type(sys.stdout)
    if not (hasattr(base, "_schedule_flush") and hasattr(base, "_flush_buffers") and hasattr(sys.stdout, "_buffers")):
        return
    lock = threading.Lock()
    tell = StringIO.tell
    cells: dict[object, list[int]] = {}
    """Characters sent and dropped per request (msg_id), both streams together; the last few kept,
    so output a thread of an earlier cell still writes cannot reset the current cell's count."""

    def cap(msg_id: object, data: str) -> str:
        with lock:
            if msg_id not in cells:
                while len(cells) >= 8:
                    del cells[next(iter(cells))]
                cells[msg_id] = [0, 0]
            counts = cells[msg_id]
            room = max(0, budget - counts[0])
            if len(data) <= room:
                counts[0] += len(data)
                return data
            first = not counts[1]
            counts[0] += room
            counts[1] += len(data) - room
        note = f"\n[output over {budget:,} characters: the rest of this cell's output is not sent]\n"
        return data[:room] + (note if first else "")

    class CappedStream(base):  # type: ignore[valid-type,misc]  # the kernel's own stream class, known at run time
        def _schedule_flush(self) -> None:
            with self._buffer_lock:
                buffered = sum(map(tell, self._buffers.values()))
            if buffered >= chunk:
                self.flush()
            else:
                super()._schedule_flush()

        def _flush_buffers(self):
            for parent, data in super()._flush_buffers():
                yield parent, cap(parent.get("msg_id"), data)

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if type(stream) is base:
            stream.__class__ = CappedStream
