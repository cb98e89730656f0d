"""Changing the calculator fixture in process, over the real `openai` SDK against the loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metagpt.exceptions import UserError
from metagpt.incremental.company import ChangeCompany
from metagpt.incremental.edit_code import EditFailed
from tests.e2e.conftest import openai_config
from tests.incremental.conftest import needs_git
from tests.incremental.scripted import (
    ADD_SUBTRACTION,
    SUBTRACTION_PLAN,
    TEST_FILE,
    blocks,
    calculator,
    change,
    change_handler,
    git,
    sections_of,
    subjects,
)

pytestmark = needs_git


def pytest_in(root: Path) -> subprocess.CompletedProcess[str]:
    """The project's own tests, run the way its tests import it (the package folder on the path)."""
    env = {**os.environ, "PYTHONPATH": str(root / "calculator")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def test_add_subtraction_edits_only_planned_files_and_keeps_untouched_sections(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    base = calculator(root)
    before = {stem: (root / f"docs/{stem}.md").read_text() for stem in ("prd", "system_design", "api_spec_and_tasks")}
    server.handler = change_handler()

    company = await change(server, root)

    record = json.loads((root / "docs/changes/0001-add-subtraction.json").read_text())
    assert record["request"] == ADD_SUBTRACTION and record["base"] == base
    markdown = (root / "docs/changes/0001-add-subtraction.md").read_text()
    assert markdown.startswith("# Change 0001 (Add subtraction)\n\n**Kind:** feature")
    assert "- subtract(5, 3) returns 2\n" in markdown
    assert "| modify | `calculator/calc.py` | add subtract(a, b) |" in markdown
    # only planned files, documents and tests changed (the report is not committed)
    changed = set(git(root, "diff", "--name-only", base, "HEAD").split())
    planned = {item["path"] for item in SUBTRACTION_PLAN["files"]}
    assert {p for p in changed if not p.startswith(("docs/", "tests/"))} == planned
    assert TEST_FILE in changed
    # untouched sections are byte-identical; the touched ones hold the change
    for stem, touched in (("prd", "Requirement Pool"), ("api_spec_and_tasks", "Logic Analysis")):
        old, new = sections_of(before[stem]), sections_of((root / f"docs/{stem}.md").read_text())
        assert list(old) == list(new)
        assert {title for title in old if old[title] != new[title]} == {touched}
    assert (
        "- subtract(a, b) returns the difference: P0\n"
        in sections_of((root / "docs/prd.md").read_text())["Requirement Pool"]
    )
    assert (root / "docs/system_design.md").read_text() == before["system_design"]
    assert json.loads((root / "docs/prd.json").read_text())["original_requirements"] == (
        "Write a tiny command-line calculator that adds two numbers."
    )
    # the code has the change, the old and new tests pass (QA's run, and an independent one)
    assert (
        'def subtract(a: float, b: float) -> float:\n    """a minus b."""\n    return a - b\n'
        in (root / "calculator/calc.py").read_text()
    )
    assert 'OPERATIONS = {"add": add, "subtract": subtract}\n' in (root / "calculator/main.py").read_text()
    assert company.qa_report.final == "passed (4 passed) in round 1"
    result = pytest_in(root)
    assert result.returncode == 0 and "4 passed" in result.stdout, result.stdout
    # commits on top of the base, one per stage, each naming the change
    assert git(root, "merge-base", "--is-ancestor", base, "HEAD") == ""
    assert subjects(root, base) == [
        "Change 0001 (Add subtraction): change request",
        "Change 0001 (Add subtraction): documents and change plan",
        "Change 0001 (Add subtraction): code",
        "Change 0001 (Add subtraction): tests",
        "Change 0001 (Add subtraction): summary",
    ]
    assert git(root, "status", "--porcelain") == ""
    diff = (root / "docs/changes/0001-add-subtraction.diff").read_text()
    assert "+def subtract(a: float, b: float) -> float:" in diff
    report = (root / "index.html").read_text()
    assert 'id="change-0001-add-subtraction"' in report and "Add subtraction" in report
    # every request went through the journal
    calls = company.context.journal.db.execute("SELECT role, action, target, status FROM calls").fetchall()
    assert [c[:3] for c in calls] == [
        ("Product Manager", "WriteChangeRequest", ""),
        ("Product Manager", "EditSections", ""),
        ("Project Manager", "EditSections", ""),
        ("Architect", "WriteChangePlan", ""),
        ("Engineer", "EditCode", "calculator/calc.py"),
        ("Engineer", "EditCode", "calculator/main.py"),
        ("QaEngineer", "WriteChangeTest", TEST_FILE),
    ]
    assert {c[3] for c in calls} == {"ok"} and len(server.requests) == len(calls)


async def test_a_search_block_that_does_not_match_changes_nothing_and_the_tree_returns_to_the_base(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    base = calculator(root)
    wrong = blocks("calculator/calc.py", ("def add(x, y):\n    return x + y\n", "def add(x, y):\n    return y + x\n"))
    seen_on_disk: list[str] = []

    def on_request(body):
        if "did not apply" in body["messages"][-1]["content"]:  # the retry: nothing was written before it
            seen_on_disk.append((root / "calculator/calc.py").read_text())

    server.handler = change_handler(edits={"calculator/calc.py": [wrong, wrong]}, on_request=on_request)

    with pytest.raises(EditFailed) as raised:
        await change(server, root, run_tests=False)

    assert str(raised.value) == (
        "The change stopped, nothing was changed: calculator/calc.py: block 1 ('def add(x, y):') matches nothing "
        "in the file."
    )
    assert seen_on_disk == [(Path(__file__).parent / "fixtures/calculator/calculator/calc.py").read_text()]
    retry = server.requests[-1].body["messages"][-1]["content"]
    assert "Block 1 for `calculator/calc.py` did not apply: matches nothing in the file." in retry
    assert "def add(a: float, b: float) -> float:\n" in retry  # the real text around it
    assert git(root, "diff", base, "HEAD") == ""  # the tree equals the base commit's
    assert git(root, "status", "--porcelain") == ""
    assert subjects(root, base)[-1].startswith("Change 0001 (Add subtraction): stopped, the project is back at")
    assert not (root / "docs/changes").exists()


async def test_a_dirty_tree_is_refused_and_allow_dirty_commits_it_first(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    base = calculator(root)
    (root / "notes.txt").write_text("my notes\n")
    company = ChangeCompany(openai_config(server.base_url, workspace_path=root.parent))

    with pytest.raises(UserError, match=r"has uncommitted changes \(notes.txt\): commit or stash them, or pass"):
        company.open_project(root, "add subtraction")

    assert git(root, "status", "--porcelain") == "?? notes.txt\n" and server.requests == []
    server.handler = change_handler()
    company = await change(server, root, run_tests=False, allow_dirty=True)
    wip = git(root, "rev-parse", f"{company.base}").strip()
    assert subjects(root, base)[0] == "Work in progress before add subtraction"
    assert git(root, "rev-parse", f"{wip}^").strip() == base
    assert (root / "notes.txt").read_text() == "my notes\n"


async def test_a_bug_fix_writes_a_failing_test_first_then_the_fix(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    calculator(root)
    calc = root / "calculator/calc.py"
    calc.write_text(calc.read_text().replace("return a + b", "return a - b"))
    git(root, "commit", "-qam", "A bug")
    base = git(root, "rev-parse", "HEAD").strip()
    documents = ["docs/prd.md", "docs/system_design.md", "docs/system_design.json", "docs/api_spec_and_tasks.md"]
    before = {name: (root / name).read_text() for name in documents}
    request = {
        **ADD_SUBTRACTION,
        "title": "Fix add",
        "kind": "bugfix",
        "request": "add(2, 3) returns -1 instead of 5.",
        "acceptance_criteria": ["add(2, 3) returns 5"],
        "sections_touched": [],
    }
    plan = {"files": [SUBTRACTION_PLAN["files"][0] | {"reason": "add must add"}]}
    test_file = "tests/test_change_0001_fix_add.py"
    test = "```python\nfrom calc import add\n\n\ndef test_add_adds():\n    assert add(2, 3) == 5\n```\n"
    fix = blocks("calculator/calc.py", ("    return a - b\n", "    return a + b\n"))
    server.handler = change_handler(request, plan, edits={"calculator/calc.py": [fix]}, tests={test_file: test})

    company = await change(server, root, request="fix: add subtracts")

    assert subjects(root, base) == [
        "Change 0001 (Fix add): change request",
        "Change 0001 (Fix add): change plan",
        "Change 0001 (Fix add): failing test reproducing the bug",
        "Change 0001 (Fix add): the fix",
        "Change 0001 (Fix add): summary",
    ]
    qa = company.qa_report
    assert qa.fixes[0] == "before the fix: 0 passed, 3 failed, 0 errors; the reproducing test fails as it should"
    assert qa.final == "passed (3 passed) in round 1"
    assert {name: (root / name).read_text() for name in documents} == before  # a bug fix rewrites no document
    failing = git(root, "log", "--format=%H", "-1", "--grep", "failing test").strip()
    assert git(root, "show", f"{failing}:calculator/calc.py").count("return a - b") == 1  # the test came first
    assert "return a + b" in calc.read_text()


async def test_a_plain_folder_of_code_gets_documents_first_then_the_change(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    fixture = Path(__file__).parent / "fixtures/calculator"
    for name in ("calculator/calc.py", "calculator/main.py", "tests/test_calc.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text((fixture / name).read_text())
    server.handler = change_handler(
        request=ADD_SUBTRACTION | {"sections_touched": [{"document": "prd", "section": "Requirement Pool"}]}
    )

    company = await change(server, root)

    first = git(root, "rev-list", "--max-parents=0", "HEAD").strip()
    assert subjects(root, first) == [
        "Before the change 'add subtraction': documents describing the existing code",
        "Change 0001 (Add subtraction): change request",
        "Change 0001 (Add subtraction): documents and change plan",
        "Change 0001 (Add subtraction): code",
        "Change 0001 (Add subtraction): tests",
        "Change 0001 (Add subtraction): summary",
    ]
    assert git(root, "log", "-1", "--format=%s", first).strip() == "Existing code before the change: add subtraction"
    assert git(root, "show", "--name-only", "--format=", first).split() == [
        ".gitignore", "calculator/calc.py", "calculator/main.py", "tests/test_calc.py",
    ]  # fmt: skip
    design = json.loads((root / "docs/system_design.json").read_text())
    assert (design["python_package_name"], design["file_list"]) == ("calculator", ["calc.py", "main.py"])
    described = git(root, "show", "--name-only", "--format=", "HEAD~5").split()
    assert "docs/prd.md" in described and "docs/api_spec_and_tasks.json" in described
    assert company.qa_report.final == "passed (4 passed) in round 1"
