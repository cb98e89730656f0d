"""The agent's own commands attack the project's control state; under bubblewrap none of it lands.

Model-written code runs through `Terminal.run` (a shell) and `Python.run` (the kernel) in the
project folder. Under bubblewrap the folder's `.metagpt/` (journal, lock), `.git/` and `logs/`
are covered by empty read-only folders: the code sees nothing there and writes nothing there.
Without bubblewrap (`SANDBOX=none`) this is not promised; there, what protects the user is that
no reader of the journal imports or calls what it names (`tests/robustness/test_state_is_data`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.agent.conftest import answer, run_cli
from tests.e2e.openai_server import answer as reply
from tests.sandboxing import BWRAP, MODES

PLANT = (
    "import sqlite3, os\n"
    "print('sees', sorted(os.listdir('.metagpt')) if os.path.isdir('.metagpt') else None)\n"
    "try:\n"
    "    db = sqlite3.connect('.metagpt/state.db')\n"
    '    db.execute("UPDATE runs SET options=\'{\\"roles\\": [{\\"class\\": \\"os.system\\"}]}\'")\n'
    "    db.commit(); print('planted')\n"
    "except Exception as exc:\n"
    "    print('refused', type(exc).__name__)\n"
    "for name in ('.metagpt/lock', 'logs/metagpt.log', '.git/config'):\n"
    "    try:\n"
    "        open(name, 'a').write('x'); print('wrote', name)\n"
    "    except OSError as exc:\n"
    "        print('refused', name, exc.errno)\n"
)


def digest(folder: Path, name: str) -> str:
    path = folder / name
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


def roles_named(folder: Path) -> list[str]:
    with sqlite3.connect(folder / ".metagpt" / "state.db") as db:
        return [row[0] for row in db.execute("SELECT options FROM runs")]


@pytest.mark.parametrize("mode", [BWRAP])
def test_sandboxed_commands_cannot_see_or_plant_the_journal(server, workspace, mode):
    server.plan(
        reply(answer(("Editor.write", {"path": "plant.py", "content": PLANT}))),
        reply(answer(("Terminal.run", {"command": "python plant.py; ls -a .git logs .metagpt"}))),
        reply(answer(("Python.run", {"code": PLANT}))),
        reply(answer(("finish", {"reason": "done"}))),
    )
    result = run_cli(server, workspace, "plant the journal", "--project-name", "p", SANDBOX=mode)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = workspace / "p"
    steps = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()]
    shell, kernel = steps[1]["observations"][0]["output"], steps[2]["observations"][0]["output"]
    for output in (shell, kernel):
        assert "sees []" in output and "planted" not in output and "wrote" not in output, output
        assert output.count("refused") == 4, output
    assert all("os.system" not in options for options in roles_named(folder))
    assert {p.name for p in (folder / ".metagpt").iterdir()} <= {"state.db", "state.db-wal", "state.db-shm"}
    log = folder / "logs" / "metagpt.log"
    assert not log.exists() or not log.read_text().endswith("x")
    assert not (folder / ".git").exists()  # the empty mount point made for it is gone


@pytest.mark.parametrize("mode", MODES)
def test_a_planted_journal_is_still_never_run(server, workspace, mode, tmp_path):
    """Without isolation the plant lands; the next resume still refuses it (and says what it is)."""
    marker = tmp_path / "pwned"
    plant = PLANT.replace("os.system", "subprocess.run").replace(
        '\\"class\\": \\"subprocess.run\\"',
        f'\\"class\\": \\"subprocess.run\\", \\"fields\\": {{\\"args\\": \\"touch {marker}\\", \\"shell\\": true}}',
    )
    server.plan(
        reply(answer(("Editor.write", {"path": "plant.py", "content": plant}))),
        reply(answer(("Terminal.run", {"command": "python plant.py"}))),
        reply(answer(("finish", {"reason": "done"}))),
    )
    result = run_cli(server, workspace, "plant the journal", "--project-name", "p", SANDBOX=mode)
    assert result.returncode == 0, result.stderr[-3000:]
    import subprocess
    import sys

    from tests.agent.conftest import CLI, ROOT

    resumed = subprocess.run(
        [sys.executable, "-c", CLI, "resume", str(workspace / "p")],
        capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60,
    )  # fmt: skip
    assert resumed.returncode == 2 and not marker.exists(), resumed.stderr


@pytest.mark.parametrize("mode", MODES)
def test_a_fifo_for_steps_jsonl_is_a_warning_not_a_hang(server, workspace, mode):
    server.plan(
        reply(answer(("Terminal.run", {"command": "rm -f steps.jsonl && mkfifo steps.jsonl"}))),
        reply(answer(("Terminal.run", {"command": "echo still here"}))),
        reply(answer(("finish", {"reason": "done"}))),
    )
    result = run_cli(server, workspace, "plant a fifo", "--project-name", "p", SANDBOX=mode, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "steps.jsonl" in result.stderr and "not appended" in result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("Stopped: finished")


@pytest.mark.parametrize("mode", MODES)
def test_a_planted_kernel_link_is_removed_not_followed(server, workspace, mode, tmp_path):
    target = tmp_path / "keep"
    target.mkdir()
    (target / "file").write_text("kept")
    server.plan(
        reply(answer(("Python.run", {"code": "print(6 * 7)"}))),
        reply(answer(("Terminal.run", {"command": f"rm -rf .kernel; ln -s {target} .kernel"}))),
        reply(answer(("Python.run", {"code": "print(6 * 8)"}))),
        reply(answer(("finish", {"reason": "done"}))),
    )
    result = run_cli(server, workspace, "plant a link", "--project-name", "p", SANDBOX=mode, timeout=90)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = workspace / "p"
    steps = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()]
    assert "42" in steps[0]["observations"][0]["output"]
    assert "48" in steps[2]["observations"][0]["output"], steps[2]
    assert (target / "file").read_text() == "kept"


def test_a_flooding_cell_is_cut_and_stopped(server, workspace):
    flood = "for i in range(300_000):\n    print('x' * 1000)\n"
    server.plan(
        reply(answer(("Python.run", {"code": flood}))),
        reply(answer(("Python.run", {"code": "print('after')"}))),
        reply(answer(("finish", {"reason": "done"}))),
    )
    result = run_cli(server, workspace, "flood", "--project-name", "p", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = workspace / "p"
    steps = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()]
    assert "OutputFlood" in steps[0]["observations"][0]["output"]
    assert "after" in steps[1]["observations"][0]["output"]
    assert (folder / "steps.jsonl").stat().st_size < 200_000


BOMB = "fork-bomb-marker"
"""In the command line of every process of the bounded bomb, to count what is left of it."""


def bomb_processes() -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                count += BOMB.encode() in (entry / "cmdline").read_bytes()
    return count


@pytest.mark.parametrize("mode", MODES)
def test_a_fork_bomb_is_stopped_at_the_process_limit(server, workspace, mode):
    # Bounded (3 x 600 sleepers, in their own sessions), so a failure cannot take the machine down.
    bomb = f"for i in $(seq 600); do setsid sh -c 'sleep 120 #{BOMB}' & sh -c 'sleep 120 #{BOMB}' & done; wait"
    server.plan(
        reply(answer(("Terminal.run", {"command": bomb}))),
        reply(answer(("Terminal.run", {"command": "echo still here"}))),
        reply(answer(("finish", {"reason": "done"}))),
    )
    started = time.monotonic()
    result = run_cli(server, workspace, "fork", "--project-name", "p", SANDBOX=mode, timeout=90)
    took = time.monotonic() - started

    assert result.returncode == 0, result.stderr[-3000:]
    steps = [json.loads(line) for line in (workspace / "p" / "steps.jsonl").read_text().splitlines()]
    assert "process limit" in steps[0]["observations"][0]["output"], steps[0]
    assert "still here" in steps[1]["observations"][0]["output"]
    assert took < 60 and bomb_processes() == 0
