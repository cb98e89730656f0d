"""A change killed at any moment resumes: the same change number and base, no finished call paid twice.

The real CLI changes the calculator fixture against the loopback server and kills itself with
SIGKILL at the k-th pass of a crash point (`METAGPT_CRASH_AT`); `metagpt resume DIR` (or the
same change command again) then finishes the change. The project must end as an uninterrupted
change leaves it (files, documents, commit subjects), and the server must have seen each of the
killed run's finished calls once.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import API_KEY, MODEL
from tests.e2e.openai_server import OpenAIServer
from tests.environ import settings_free_environ
from tests.incremental.conftest import needs_git
from tests.incremental.scripted import SUBTRACTION_EDITS, calculator, change_handler, git, subjects

pytestmark = needs_git
STARTUP = Path(__file__).resolve().parents[2] / "startup.py"
CHANGE = "add subtraction"
SKIPPED = (".git", ".metagpt", "logs")
REPORT = ("index.html", "mermaid.min.js")  # the report quotes the run's times and spend


def handler():
    # an answer the killed run received but never recorded is asked for again: script it twice
    return change_handler(edits={path: answers * 2 for path, answers in SUBTRACTION_EDITS.items()})


def run_cli(server, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = settings_free_environ()
    environ.pop("METAGPT_CRASH_AT", None)
    environ.update(
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY=API_KEY,
        OPENAI_API_MODEL=MODEL,
        EDIT_FORMAT="diff",
        MERMAID_ENGINE="none",
        **env,
    )
    return subprocess.run(
        [sys.executable, str(STARTUP), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=180
    )


def change(server, cwd: Path, root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(server, cwd, CHANGE, "--project-path", str(root), "--run-tests", **env)


def spent_line(stderr: str) -> str:
    [line] = [line for line in stderr.splitlines() if line.startswith("Spent $")]
    return line.split(" (")[0]


def project_files(root: Path) -> dict[str, str]:
    """Every file but git's, the journal, logs and the report, with commit shas named by position
    (two runs' commits differ by their times) and so the blob names in the record's diff."""
    shas = git(root, "rev-list", "--reverse", "HEAD").split()
    names = {sha: f"<commit {i}>" for i, sha in enumerate(shas)}
    pattern = re.compile("|".join(rf"\b{sha[:7]}[0-9a-f]{{0,33}}\b" for sha in shas))

    def named(text: str) -> str:
        return pattern.sub(lambda m: next(n for s, n in names.items() if s.startswith(m.group(0))), text)

    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in SKIPPED or str(relative) in REPORT or not path.is_file():
            continue
        if "__pycache__" in relative.parts or ".pytest_cache" in relative.parts:
            continue
        text = named(path.read_text(errors="replace"))
        if relative.suffix == ".diff":  # the record's blobs quote commit shas
            text = re.sub(r"(?m)^index [0-9a-f]+\.\.[0-9a-f]+", "index <blobs>", text)
        files[str(relative)] = text
    return files


def runs_of(root: Path) -> list[str]:
    db = sqlite3.connect(root / ".metagpt" / "state.db")
    try:
        return [row[0] for row in db.execute("SELECT status FROM runs ORDER BY started_at, rowid")]
    finally:
        db.close()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    cwd = tmp_path_factory.mktemp("uninterrupted")
    root = cwd / "calculator"
    base = calculator(root)
    with OpenAIServer(handler()) as server:
        started = time.monotonic()
        result = change(server, cwd, root)
        seconds = time.monotonic() - started
        assert result.returncode == 0, result.stderr[-3000:]
        return {
            "files": project_files(root),
            "subjects": subjects(root, base),
            "requests": len(server.requests),
            "spent": spent_line(result.stderr),
            "seconds": seconds,
        }


CASES = [
    ("before_request", 1),
    ("before_request", 4),
    ("after_answer", 2),
    ("after_answer", 6),
    ("after_journal", 1),
    ("after_journal", 5),
    ("after_journal", 7),
    ("file", 3),
    ("file", 12),
    ("git", 1),
    ("git", 3),
    ("git", 6),
]


@pytest.mark.parametrize(("point", "k"), CASES)
def test_a_change_killed_at_a_point_resumes_to_the_uninterrupted_result(uninterrupted, tmp_path, point, k):
    root = tmp_path / "calculator"
    base = calculator(root)
    with OpenAIServer(handler()) as server:
        crashed = change(server, tmp_path, root, METAGPT_CRASH_AT=f"{point}:{k}")
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
        sent_before = len(server.requests)

        resumed = run_cli(server, tmp_path, "resume", str(root))

        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert not server.errors
        assert "Traceback" not in resumed.stderr
        assert project_files(root) == uninterrupted["files"]
        assert subjects(root, base) == uninterrupted["subjects"]  # the same change number, on the same base
        assert git(root, "merge-base", "--is-ancestor", base, "HEAD") == ""
        extra = 1 if point == "after_answer" else 0  # its answer arrived but was never recorded
        assert len(server.requests) == uninterrupted["requests"] + extra
        bodies = [json.dumps(b, sort_keys=True) for b in server.bodies]
        repeated = [body for body in bodies[sent_before:] if body in bodies[:sent_before]]
        assert len(repeated) == extra  # no finished call was sent again
        assert runs_of(root)[-2:] == ["interrupted", "finished"]
        assert "refs/metagpt/interrupted" not in git(root, "for-each-ref")
        if point in ("after_journal", "file", "git"):  # nothing was in flight: not a cent more
            assert spent_line(resumed.stderr) == uninterrupted["spent"]


@pytest.mark.parametrize("trial", range(2))
def test_a_change_killed_from_outside_at_a_random_time_resumes(uninterrupted, tmp_path, trial):
    root = tmp_path / "calculator"
    base = calculator(root)
    delay = random.Random(20261202 + trial).uniform(0.5, max(0.6, uninterrupted["seconds"] * 0.9))
    with OpenAIServer(handler()) as server:
        command = [CHANGE, "--project-path", str(root), "--run-tests"]
        environ = settings_free_environ()
        environ.pop("METAGPT_CRASH_AT", None)
        environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=API_KEY, OPENAI_API_MODEL=MODEL)
        environ.update(EDIT_FORMAT="diff", MERMAID_ENGINE="none")
        process = subprocess.Popen(
            [sys.executable, str(STARTUP), *command],
            cwd=tmp_path,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)  # the CLI and whatever test run it had started
        process.wait(timeout=30)

        resumed = run_cli(server, tmp_path, "resume", str(root))
        if "records no run" in resumed.stderr:  # killed before the change was recorded
            pytest.skip(f"killed after {delay:.2f}s, before the change had started")

        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert project_files(root) == uninterrupted["files"]
        assert subjects(root, base) == uninterrupted["subjects"]
        assert len(server.requests) <= uninterrupted["requests"] + 1


def test_the_finished_stages_keep_their_commits_and_the_same_command_resumes(tmp_path):
    root = tmp_path / "calculator"
    base = calculator(root)
    with OpenAIServer(handler()) as server:
        crashed = change(server, tmp_path, root, METAGPT_CRASH_AT="after_journal:5")  # during the code stage
        assert crashed.returncode == -signal.SIGKILL
        finished = git(root, "rev-list", "--reverse", f"{base}..HEAD").split()
        assert len(finished) == 2  # the change request; the documents and plan
        sent_before = len(server.requests)

        # the same change again, not `resume` (and without --run-tests: it runs as it was started)
        again = run_cli(server, tmp_path, CHANGE, "--project-path", str(root))

        assert again.returncode == 0, again.stderr[-3000:]
        assert "Tests: passed (4 passed) in round 1" in again.stderr
        assert git(root, "rev-list", "--reverse", f"{base}..HEAD").split()[:2] == finished
        assert "Change 0001 (Add subtraction): docs/changes/0001-add-subtraction.md" in again.stderr
        assert not (root / "docs/changes/0002-add-subtraction.md").exists()
        assert len(server.requests) == sent_before + 2  # the two calls the killed run had not made


def test_another_change_is_refused_while_one_is_interrupted(tmp_path):
    root = tmp_path / "calculator"
    calculator(root)
    with OpenAIServer(handler()) as server:
        assert change(server, tmp_path, root, METAGPT_CRASH_AT="after_journal:2").returncode == -signal.SIGKILL
        sent = len(server.requests)

        other = run_cli(server, tmp_path, "add multiplication", "--project-path", str(root))

        assert other.returncode == 2
        assert f"was interrupted; finish it first with: metagpt resume {root}" in other.stderr
        assert len(server.requests) == sent


def test_what_a_person_left_in_the_tree_after_the_kill_is_kept_in_a_stash(uninterrupted, tmp_path):
    root = tmp_path / "calculator"
    calculator(root)
    with OpenAIServer(handler()) as server:
        assert change(server, tmp_path, root, METAGPT_CRASH_AT="after_journal:5").returncode == -signal.SIGKILL
        (root / "my_notes.txt").write_text("ideas for tomorrow\n")
        tracked = sorted(git(root, "ls-files").split())[0]
        with open(root / tracked, "a") as handle:
            handle.write("# a person's edit after the kill\n")

        resumed = run_cli(server, tmp_path, "resume", str(root))

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "as a git stash" in resumed.stderr
    assert project_files(root) == uninterrupted["files"]
    stashed = git(root, "stash", "show", "--include-untracked", "--name-only", "stash@{0}").split()
    assert "my_notes.txt" in stashed and tracked in stashed
    assert git(root, "show", "stash@{0}^3:my_notes.txt") == "ideas for tomorrow\n"
