"""The executable-feedback loop on scripted answers: tests fail, the Engineer fixes, tests pass.

Everything real but the model: the project is written to disk, pytest runs in the sandbox, the
failure is pinned on a file from its traceback and routed by message, and git keeps each stage.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import Any

import pytest

from metagpt.config import Config
from metagpt.context import Context
from metagpt.provider.fake import FakeProvider
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager, QaEngineer
from metagpt.software_company import SoftwareCompany
from tests.calculator import BUGGY, FIXED, HANGS, scripted


def company(tmp_path, code_versions: list[str], **settings: Any) -> tuple[SoftwareCompany, FakeProvider]:
    config = Config(api_type="fake", workspace_path=tmp_path / "ws", **settings)
    provider = FakeProvider([scripted(code_versions)] * 30)
    team = SoftwareCompany(context=Context(config, provider=provider))
    team.hire([ProductManager(), Architect(), ProjectManager(), Engineer(), QaEngineer()])
    team.start_project("a calculator")
    return team, provider


async def test_a_failing_test_goes_to_the_engineer_and_the_fix_makes_it_pass(tmp_path):
    team, _ = company(tmp_path, [BUGGY, FIXED])

    await team.run(n_round=15)

    root = team.project.path
    report = team.qa_report
    assert [(r.round, r.ok, r.file_to_fix, r.send_to) for r in report.runs] == [
        (1, False, "calc_app/calc.py", "Engineer"),
        (2, True, "", ""),
    ]
    assert report.runs[0].summary == "0 passed, 1 failed, 0 errors"
    assert "assert -1 == 5" in report.runs[0].output
    assert report.final == "passed (1 passed) in round 2"
    assert (root / "calc_app/calc.py").read_text() == "def add(a: int, b: int) -> int:\n    return a + b\n"
    assert (root / "tests/test_calc.py").read_text().startswith("from calc import add")
    qa_report = (root / "docs/qa_report.md").read_text()
    assert "**Result: passed (1 passed) in round 2**" in qa_report
    assert "| 1 | 0 passed, 1 failed, 0 errors | calc_app/calc.py | Engineer |" in qa_report
    assert "- round 1: `calc_app/calc.py` sent to the Engineer" in qa_report
    # the messages: QA -> Engineer (fix request), Engineer -> QA (fixed), QA's final report
    routed = [(m.sent_from, sorted(m.send_to)) for m in team.env.history.get()[5:]]
    assert routed == [("Edward", ["Engineer"]), ("Alex", ["Edward"]), ("Edward", ["<all>"])]
    # the tests really pass in the generated project, run by us
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "/dev/null", "--rootdir", root, "tests"],
        cwd=root,
        env={"PYTHONPATH": f"{root}:{root / 'calc_app'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
async def test_the_project_history_has_one_commit_per_stage(tmp_path):
    team, _ = company(tmp_path, [BUGGY, FIXED])

    await team.run(n_round=15)

    assert team.project.history.log() == [
        "Product Manager: WritePRD",
        "Architect: WriteDesign",
        "Project Manager: WriteTasks",
        "Code: 2 files of calc_app",
        "Code review",
        "Tests: 1 files",
        "Test round 1: 0 passed, 1 failed, 0 errors",
        "Engineer: DebugError",
        "Test round 2: 1 passed",
    ]  # no diagram was drawn (no engine), and the report is never committed: no last commit
    assert team.project.history.git("status", "--porcelain").stdout == ""


async def test_a_program_that_never_ends_is_stopped_and_reported_and_the_run_goes_on(tmp_path):
    team, _ = company(tmp_path, [HANGS], test_timeout=3, test_round_allowed=1)

    await team.run(n_round=15)

    (run,) = team.qa_report.runs
    assert not run.ok and run.summary == "killed after 3s (timeout)"
    assert run.file_to_fix == "calc_app/calc.py"  # the hung frame, from the faulthandler dump
    assert team.qa_report.final == "failed after 1 rounds (killed after 3s (timeout))"
    assert "killed after 3s (timeout)" in (team.project.path / "docs/qa_report.md").read_text()
    assert team.env.is_idle


async def test_a_missing_third_party_module_is_reported_not_debugged(tmp_path):
    needs_numpy = "```python\nimport numpy_not_installed_here\n\n\ndef add(a, b):\n    return a + b\n```"
    team, _ = company(tmp_path, [needs_numpy])

    await team.run(n_round=15)

    (run,) = team.qa_report.runs
    assert run.send_to == "" and "numpy_not_installed_here" in run.reason
    assert team.qa_report.final.startswith("failed (0 passed, 0 failed, 1 errors): module 'numpy_not_installed_here'")
