"""Nothing the CLI prints can drive the terminal, and a huge journal entry prints as a page, not a flood.

Text shown by `metagpt logs`, `metagpt agent` and `metagpt interpret` comes from places an
attacker can write: model answers, cell output, and the journal itself (sandboxed code could not
reach it under bubblewrap, but a project folder may come from anywhere). Each test plants escape
sequences there (OSC 52 writes the clipboard, OSC 0 retitles the window, a C1 CSI, a DCS query,
bidirectional overrides, backspace and DEL), runs the real command and checks every byte it
printed: the text survives, the controls do not. `--json` stays exact, with controls escaped.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.conftest import answer, run_cli
from tests.e2e.openai_server import answer as reply
from tests.environ import settings_free_environ
from tests.robustness.conftest import IDEA, cli_env, invoke

HOSTILE = "a\x1b]52;c;cm0gLXJmIH4K\x07b\x1b]0;owned\x1b\\c\x9b31md\u202eevil\u202ce\x1bP+q544e\x1b\\f\x08\x7fg\x1b[2Jh"
VISIBLE = "abcdevilefgh"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ROOT = Path(__file__).resolve().parents[2]


def assert_inert(text: str) -> None:
    found = CONTROL.search(text)
    assert found is None, f"{found.group()!r} printed at {found.start()}: {text[max(0, found.start() - 80) :][:160]!r}"


def planted_project(server, tmp_path: Path) -> Path:
    """A finished company run whose journal then had every shown column rewritten as HOSTILE."""
    result = invoke(server, tmp_path / "workspace", IDEA, "--project-name", "demo", "--no-implement")
    assert result.exit_code == 0, result.output
    project = tmp_path / "workspace" / "demo"
    response = json.dumps({"text": HOSTILE, "finish_reason": "stop", "model": HOSTILE})
    with sqlite3.connect(project / ".metagpt" / "state.db") as db:
        db.execute(
            "UPDATE calls SET role=?, action=?, target=?, model=?, error=?, response=?",
            (HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, response),
        )
        db.execute("UPDATE runs SET idea=?, stop_reason=?", (HOSTILE, HOSTILE))
    return project


def cli(server, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`metagpt ARGS` as its own process, its stdout and stderr as the terminal would get them."""
    environ = {**settings_free_environ(), **cli_env(server, tmp_path / "workspace"), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", "from metagpt.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environ, timeout=120, cwd=tmp_path)


@pytest.mark.parametrize(
    "args",
    [["logs", "-n", "0"], ["logs", "show", "1"], ["logs", "show", "1", "--full"], ["logs", "summary"]],
    ids=["logs", "show", "show --full", "summary"],
)
def test_journal_text_is_shown_without_its_control_sequences(server, tmp_path: Path, args: list[str]) -> None:
    project = planted_project(server, tmp_path)

    done = cli(server, tmp_path, *args, str(project))

    assert done.returncode == 0, done.stderr[-2000:]
    assert_inert(done.stdout)
    assert_inert(done.stderr)
    if args[:2] != ["logs", "summary"]:
        assert VISIBLE in done.stdout


def test_json_output_is_exact_and_escaped(server, tmp_path: Path) -> None:
    project = planted_project(server, tmp_path)

    listed = cli(server, tmp_path, "logs", "-n", "0", "--json", str(project))
    shown = cli(server, tmp_path, "logs", "show", "1", "--json", str(project))

    for done in (listed, shown):
        assert done.returncode == 0, done.stderr[-2000:]
        assert_inert(done.stdout)
        assert done.stdout.isascii()
    rows = json.loads(listed.stdout)
    assert {row["role"] for row in rows} == {HOSTILE}
    assert json.loads(shown.stdout)["response"]["text"] == HOSTILE


def test_a_huge_answer_prints_its_head_and_tail_unless_asked_whole(server, tmp_path: Path) -> None:
    project = planted_project(server, tmp_path)
    huge = "HEAD" + "x" * 20_000_000 + "TAIL"
    with sqlite3.connect(project / ".metagpt" / "state.db") as db:
        db.execute("UPDATE calls SET response=? WHERE id=1", (json.dumps({"text": huge, "finish_reason": "stop"}),))

    shown = cli(server, tmp_path, "logs", "show", "1", str(project))
    whole = cli(server, tmp_path, "logs", "show", "1", "--full", str(project))

    assert shown.returncode == 0, shown.stderr[-2000:]
    assert len(shown.stdout) < 100_000
    assert "HEAD" in shown.stdout and "TAIL" in shown.stdout and "--full" in shown.stdout
    assert whole.returncode == 0 and len(whole.stdout) > len(huge)


def test_the_agents_finish_reason_and_outcome_lines_are_inert(server, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    server.plan(
        reply(answer(("Terminal.run", {"command": f"printf {json.dumps(HOSTILE)!r}"}), thought=HOSTILE)),
        reply(answer(("finish", {"reason": HOSTILE}))),
    )

    done = run_cli(server, workspace, "say it", "--project-name", "p", SANDBOX="none")

    assert done.returncode == 0, done.stderr[-3000:]
    assert_inert(done.stdout)
    assert_inert(done.stderr)
    assert VISIBLE in done.stdout + done.stderr


def test_the_interpreters_answer_is_inert(server, tmp_path: Path) -> None:
    pytest.importorskip("ipykernel")
    from tests.interpreter.conftest import code, plan

    server.plan(reply(plan(("1", [], "print it"))), reply(code(f"print({HOSTILE!r})")))

    done = cli(server, tmp_path, "interpret", "print it", "--project-name", "p")

    assert done.returncode == 0, done.stderr[-3000:]
    assert_inert(done.stdout)
    assert_inert(done.stderr)
    assert VISIBLE in done.stdout
