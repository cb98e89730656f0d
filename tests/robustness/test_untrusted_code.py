"""Untrusted code stays in its box: each attack of a hostile model's tests fails to take effect.

Each test runs the whole company (`startup.py --run-tests`, its own process, the API key and a
search key in its environment) against a loopback server whose tests attack, in both sandbox
modes:

* `none` (limits only): the tests run as us and can reach the project folder, the parent's
  `/proc` and the network; what must hold is that the company never trusts what they touched:
  no planted git command runs, nothing is written through a planted link, no secret reaches a
  file, a log, a git object or a request, nothing blocks, the report tells the truth, and no
  process outlives the run;
* `bwrap` (isolated): the same, and the attacks do not even reach their targets.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.openai_server import OpenAIServer
from tests.robustness.conftest import API_KEY, IDEA, spawn
from tests.robustness.untrusted import all_project_bytes, hostile_tests
from tests.sandboxing import MODES

SEARCH_KEY = "serp-secret-0123456789abcdef"
PROJECT = "cli_snake_game"
pytestmark = [pytest.mark.parametrize("mode", MODES), pytest.mark.skipif(not os.path.exists("/proc/self"), reason="")]


def run_company(server: OpenAIServer, cwd: Path, mode: str, code: str, rounds: int = 1) -> tuple[int, str, float]:
    """Run the company with hostile tests; (exit code, stderr, seconds)."""
    server.handler = hostile_tests(code, cwd)
    start = time.monotonic()
    # No diagram engine: what is attacked here is the test run, and starting Chromium for the
    # diagrams (when one is installed) would add seconds of CPU to each of these runs.
    process = spawn(
        server, cwd, IDEA, "--run-tests",
        SANDBOX=mode, TEST_ROUND_ALLOWED=str(rounds), TEST_TIMEOUT="20", SERPAPI_API_KEY=SEARCH_KEY,
        MERMAID_ENGINE="none",
    )  # fmt: skip
    try:
        _, stderr = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"the run blocked: {stderr.decode(errors='replace')[-2000:]}")
    return process.returncode, stderr.decode(errors="replace"), time.monotonic() - start


def assert_no_secret_left(server: OpenAIServer, cwd: Path) -> None:
    """Neither key is in any project file, log, git object, nor in any request sent to the model."""
    everything = all_project_bytes(cwd / "workspace")
    for secret in (API_KEY, SEARCH_KEY):
        assert secret.encode() not in everything
        assert secret not in json.dumps(server.bodies)


def qa_report(cwd: Path) -> str:
    return (cwd / "workspace" / PROJECT / "docs" / "qa_report.md").read_text()


def test_planted_git_configuration_never_runs_and_never_redirects(server, tmp_path: Path, mode: str) -> None:
    marker, outside = tmp_path / "pwned", tmp_path / "outside"
    outside.mkdir()
    (outside / "stolen.txt").write_text("a file outside the project")
    code = f"""
for project in find_projects():
    with open(project / ".git" / "config", "a") as f:
        f.write('[filter "pwn"]\\n\\tclean = sh -c "env >> {marker}; sleep 60; cat"\\n\\trequired = true\\n')
        f.write('[core]\\n\\tworktree = {outside}\\n\\tfsmonitor = touch {marker}\\n')
    (project / ".gitattributes").write_text("* filter=pwn\\n")
    hook = project / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\\ntouch {marker}\\n")
    hook.chmod(0o755)


def test_passes():
    assert True
"""
    code_, stderr, seconds = run_company(server, tmp_path, mode, code)
    root = tmp_path / "workspace" / PROJECT
    assert code_ == 0, stderr
    assert not marker.exists(), "a command planted in the repository ran in the parent"
    assert seconds < 120
    assert not (root / ".git" / "index.lock").exists()
    log = subprocess.run(["git", "log", "--format=%s"], cwd=root, capture_output=True, text=True).stdout
    # the last commit came after the attack (no diagram is drawn here and the report is never
    # committed, so the test round's commit is the run's last)
    assert log.splitlines()[0].startswith("Test round 1:")
    tree = subprocess.run(["git", "ls-tree", "-r", "--name-only", "HEAD"], cwd=root, capture_output=True, text=True)
    assert "stolen.txt" not in tree.stdout and f"{PROJECT}/game.py" in tree.stdout
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    assert not [line for line in status.splitlines() if line.startswith(" D")]
    assert "pwn" not in (root / ".git" / "config").read_text()
    planted = (root / ".gitattributes").exists()
    assert planted if mode == "none" else not planted  # without isolation the attack reached the folder
    assert (outside / "stolen.txt").read_text() == "a file outside the project"
    assert "**Result: passed" in qa_report(tmp_path)


def test_planted_links_and_pipes_are_never_followed(server, tmp_path: Path, mode: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("original")
    big = outside / "big.bin"
    with big.open("wb") as file:
        file.truncate(1 << 30)  # 1 GiB, sparse
    code = f"""
for project in find_projects():
    for pid in ancestors():
        for name in ("qa_report.md", "index.html"):
            for folder in (project / "docs", project):
                try:
                    os.symlink("{victim}", folder / f".{{name}}.{{pid}}.tmp")
                except OSError:
                    pass
    package = project / "{PROJECT}"
    os.symlink("/proc/self/environ", package / "env.txt")
    os.symlink("{big}", package / "big.bin")
    os.mkfifo(package / "pipe.txt")


def test_passes():
    assert True
"""
    code_, stderr, seconds = run_company(server, tmp_path, mode, code)
    root = tmp_path / "workspace" / PROJECT
    assert code_ == 0, stderr
    assert seconds < 120
    assert victim.read_text() == "original"
    assert big.stat().st_size == 1 << 30 and not [
        p for p in outside.iterdir() if p.name not in ("victim.txt", "big.bin")
    ]
    for name in ("docs/qa_report.md", "index.html"):
        assert (root / name).is_file() and not (root / name).is_symlink()
    page = (root / "index.html").read_text()
    if mode == "none":  # the links reached the project: the report names and skips them
        assert "env.txt: a symbolic link, not followed" in page and "pipe.txt: not a regular file" in page
    assert_no_secret_left(server, tmp_path)


def test_the_parents_environment_never_reaches_a_file_a_log_or_a_prompt(server, tmp_path: Path, mode: str) -> None:
    code = """
def test_leaks():
    seen = []
    for pid in ancestors():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                seen.append(f.read().replace(b"\\0", b"\\n").decode())
        except OSError as error:
            seen.append(f"{pid}: {error}")
    print("\\n".join(seen))
    assert False, "\\n".join(seen)
"""
    code_, stderr, _ = run_company(server, tmp_path, mode, code, rounds=2)
    assert code_ == 0, stderr
    report = qa_report(tmp_path)
    assert "**Result: failed" in report
    if mode == "none":  # the test read the company's environment; only the masked form came back
        assert "OPENAI_API_KEY=***" in report and "SERPAPI_API_KEY=***" in report
    else:  # the company's process is not in the sandbox's /proc
        assert "OPENAI_API_KEY" not in report
    fixes = [b for b in server.bodies if "is the file to fix" in json.dumps(b)]
    assert fixes, "the failure was not sent back to be fixed"
    assert_no_secret_left(server, tmp_path)


@pytest.mark.parametrize(
    ("sabotage", "reason"),
    [
        ("os.unlink(path); os.mkfifo(path)", "not a regular file"),
        ("open(path, 'w').write('<testsuite tests=\"abc\"/>')", "is not a count"),
        ("open(path, 'w').write('not xml at all')", "not valid XML"),
        (
            'open(path, \'w\').write(\'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><testsuite tests="1">&b;</testsuite>\')',
            "DOCTYPE",
        ),
        ("os.unlink(path)", "missing"),
    ],
    ids=["fifo", "bad-count", "not-xml", "entity-bomb", "missing"],
)
def test_a_sabotaged_junit_report_is_a_failed_round_with_its_reason(
    server, tmp_path: Path, mode: str, sabotage: str, reason: str
) -> None:
    code = f"""
import atexit, sys


def sabotage():
    path = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--junitxml="))
    {sabotage}


atexit.register(sabotage)


def test_passes():
    assert True
"""
    code_, stderr, seconds = run_company(server, tmp_path, mode, code)
    assert code_ == 0, stderr
    assert seconds < 120
    report = qa_report(tmp_path)
    assert "**Result: failed" in report and reason in report


def test_a_test_cannot_rig_later_rounds_or_leave_a_process_behind(server, tmp_path: Path, mode: str) -> None:
    beat = tmp_path / "beat"
    code = f'''
import subprocess, sys

RIG = """
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""


BEAT = (
    "import os, time\\n"
    "path = {str(beat)!r} if os.path.isdir({str(beat.parent)!r}) else 'beat'\\n"
    "while True:\\n"
    "    open(path, 'a').write('.')\\n"
    "    time.sleep(0.05)\\n"
)


def test_rigs_and_fails():
    pathlib.Path("tests/conftest.py").write_text(RIG)
    subprocess.Popen(
        [sys.executable, "-c", BEAT],
        start_new_session=True,
    )
    assert 1 + 1 == 3
'''
    code_, stderr, _ = run_company(server, tmp_path, mode, code, rounds=2)
    root = tmp_path / "workspace" / PROJECT
    assert code_ == 0, stderr
    report = qa_report(tmp_path)
    assert "**Result: failed after 2 rounds" in report
    assert "| 2 | 0 passed, 2 failed, 0 errors |" in report  # the rigged conftest stayed in its copy
    assert not (root / "tests" / "conftest.py").exists()
    assert "## Stray processes killed" in report and "round 2: `python" in report
    if beat.exists():  # without isolation the process could write here, and died with the run
        size = beat.stat().st_size
        time.sleep(0.5)
        assert beat.stat().st_size == size
    else:
        assert mode == "bwrap"
