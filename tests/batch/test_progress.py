"""The batch's live progress line: redrawn in place on a terminal, plain periodic lines elsewhere,
nothing but the per-company lines with --json."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
import threading
import time

from metagpt.batch.company import CompanyResult, Meter
from metagpt.batch.progress import ERASE_LINE, ProgressLine, Tracker
from metagpt.cost_manager import CostManager
from tests.batch.conftest import IDEAS, MAX_TOKENS
from tests.e2e.openai_server import OpenAIServer, realistic_reply
from tests.e2e.test_resume import STARTUP, environ


def test_the_tracker_counts_done_running_failed_and_the_live_spend():
    tracker = Tracker()
    tracker.begin(4, 1.0)
    meter = Meter()
    tracker.started(0, meter)
    tracker.started(1)
    meter.cost_manager = CostManager(3.0)
    meter.cost_manager.total.cost = 0.25  # what company 0 has spent so far, read live
    tracker.live(1, 0.125)
    assert tracker.snapshot().line().startswith("0/4 done, 2 running, 0 failed  $0.3750 of $1.0000")
    tracker.ended(0, CompanyResult("a", "a", cost=0.5))
    tracker.ended(1, CompanyResult("b", "b", status="budget", cost=0.25))
    tracker.started(2)
    tracker.ended(2, CompanyResult("c", "c", status="failed"))
    snapshot = tracker.snapshot()
    assert (snapshot.done, snapshot.running, snapshot.failed, snapshot.budget) == (1, 0, 1, 1)
    assert snapshot.line().startswith("1/4 done, 0 running, 1 failed, 1 budget  $0.7500 of $1.0000")


def test_a_live_line_is_redrawn_in_place_and_ended_companies_print_above_it():
    stream, tracker = io.StringIO(), Tracker()
    tracker.begin(2, None)
    line = ProgressLine(stream, tracker, live=True)
    tracker.started(0)
    line.tick()
    line.tick()
    tracker.ended(0, CompanyResult("a", "a", cost=0.1))
    line.print("[1/2] done a")
    line.close()
    text = stream.getvalue()
    assert text.count(ERASE_LINE + "0/2 done, 1 running, 0 failed  $0.0000 spent") == 2
    # the live line is erased, the company's line printed, the live line drawn again below it
    assert ERASE_LINE + "[1/2] done a\n" + ERASE_LINE + "1/2 done, 0 running" in text
    assert text.endswith(ERASE_LINE)  # erased before the summary


def test_off_a_terminal_a_status_line_comes_at_most_every_interval_and_only_on_change():
    stream, tracker = io.StringIO(), Tracker()
    tracker.begin(2, None)
    line = ProgressLine(stream, tracker, live=False, every=0.2)
    for _ in range(3):
        line.tick()  # nothing changed: one line
    tracker.started(0)
    line.tick()  # changed, but too soon
    assert stream.getvalue().count("batch: ") == 1 and "\r" not in stream.getvalue()
    time.sleep(0.25)
    line.tick()
    assert stream.getvalue().splitlines()[-1].startswith("batch: 0/2 done, 1 running")
    quiet = io.StringIO()
    ProgressLine(quiet, tracker, live=False, every=0).tick()
    assert quiet.getvalue() == ""


def slow(body):
    time.sleep(0.05)
    return realistic_reply(body)


def run_batch_cli(server: OpenAIServer, cwd, *args: str, terminal: bool) -> tuple[int, str, str]:
    """`metagpt batch` with its stderr on a real pseudo-terminal (or a pipe); (code, stdout, stderr)."""
    command = [sys.executable, str(STARTUP), "batch", *args]
    env = environ(server, MAX_TOKENS=str(MAX_TOKENS))
    if not terminal:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
        return done.returncode, done.stdout, done.stderr
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the terminal's other end closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    reader.start()
    try:
        stdout, _ = process.communicate(timeout=300)
    finally:
        reader.join(timeout=10)
        os.close(master)
    return process.returncode, stdout, b"".join(chunks).decode(errors="replace")


def test_the_cli_draws_a_live_line_on_a_terminal_and_plain_lines_elsewhere(allow_model_requests, tmp_path):
    ideas = tmp_path / "ideas.txt"
    ideas.write_text("\n".join(IDEAS[:3]))
    with OpenAIServer(slow) as server:
        code, _, shown = run_batch_cli(
            server, tmp_path, str(ideas), "--workers", "2", "--workspace", "tty", "--investment-total", "5",
            terminal=True,
        )  # fmt: skip
        assert code == 0, shown[-3000:]
        assert "\r\x1b[K" in shown and " running, 0 failed  $0." in shown and " of $5.0000" in shown
        assert "3/3 done, 0 running, 0 failed" in shown
        assert "| INFO" not in shown and "Engineer:" not in shown  # the companies' logs stay off the line
        assert "Total: $" in shown  # then the summary

        code, _, plain = run_batch_cli(
            server, tmp_path, str(ideas), "--workers", "2", "--workspace", "plain", "--progress-every", "0.5",
            terminal=False,
        )  # fmt: skip
        assert code == 0, plain[-3000:]
        status = [line for line in plain.splitlines() if line.startswith("batch: ")]
        assert status and any(" running" in line and "spent" in line for line in status)
        assert "\r" not in plain and "\x1b[K" not in plain

        code, stdout, quiet = run_batch_cli(
            server, tmp_path, str(ideas), "--workers", "2", "--workspace", "json", "--progress-every", "0.5",
            "--json", terminal=True,
        )  # fmt: skip
        assert code == 0, quiet[-3000:]
        assert [r["status"] for r in json.loads(stdout)["results"]] == ["done"] * 3
        assert "batch: " not in quiet and "\x1b[K" not in quiet and quiet.count("] done") == 3
