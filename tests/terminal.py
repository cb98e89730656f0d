"""Driving a program through a pseudo-terminal, as a person at a keyboard would."""

from __future__ import annotations

import os
import pty
import subprocess
import time
from pathlib import Path


def answer_at_terminal(
    command: list[str], env: dict[str, str], cwd: Path, reply: bytes, timeout: float = 60
) -> tuple[int, str]:
    """Run `command` on a pty, type `reply` once it asks for an answer; (exit code, all it printed)."""
    controller, terminal = pty.openpty()
    with subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=cwd) as process:
        os.close(terminal)
        output = b""
        deadline = time.monotonic() + timeout
        while b"your answer" not in output and time.monotonic() < deadline:
            output += os.read(controller, 4096)
        os.write(controller, reply)
        while time.monotonic() < deadline:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the program exited and closed the terminal
                break
            if not chunk:
                break
            output += chunk
        if process.poll() is None:
            process.kill()
        code = process.wait(timeout=10)
    os.close(controller)
    return code, output.decode(errors="replace").replace("\r\n", "\n")
