"""`metagpt "<change>" --inc --project-path DIR` as a user runs it, against the loopback server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from metagpt.cli import app
from tests.e2e.conftest import API_KEY, MODEL
from tests.environ import settings_free_environ
from tests.incremental.conftest import needs_git
from tests.incremental.scripted import calculator, change_handler, git, subjects, users_repository

pytestmark = needs_git
STARTUP = Path(__file__).resolve().parents[2] / "startup.py"

ADD_MULTIPLICATION = {
    "title": "Add multiplication",
    "kind": "feature",
    "request": "`python main.py multiply 2 3` prints 6.",
    "acceptance_criteria": ["multiply(2, 3) returns 6"],
    "sections_touched": [{"document": "prd", "section": "Requirement Pool"}],
}
MULTIPLICATION_PLAN = {
    "files": [
        {"action": "create", "path": "calculator/more.py", "new_path": "", "reason": "multiply(a, b)"},
        {"action": "modify", "path": "calculator/main.py", "new_path": "", "reason": "offer multiply"},
    ]
}
MORE = '```python\n"""More operations."""\n\n\ndef multiply(a: float, b: float) -> float:\n    return a * b\n```\n'
MULTIPLY_TEST = "```python\nfrom more import multiply\n\n\ndef test_multiply():\n    assert multiply(2, 3) == 6\n```\n"


def run_cli(server, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = settings_free_environ()
    environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=API_KEY, OPENAI_API_MODEL=MODEL, **env)
    return subprocess.run(
        [sys.executable, str(STARTUP), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


def test_cli_changes_the_project_and_a_second_change_goes_on_top(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    base = calculator(root)
    server.handler = change_handler()

    first = run_cli(server, tmp_path, "add subtraction", "--project-path", str(root), "--run-tests", EDIT_FORMAT="diff")

    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert f"Change 0001 (Add subtraction): docs/changes/0001-add-subtraction.md, 5 commits on top of {base[:8]}" in (
        first.stderr
    )
    assert "  modify calculator/calc.py\n  modify calculator/main.py\n" in first.stderr
    assert "Tests: passed (4 passed) in round 1 (docs/qa_report.md)" in first.stderr
    assert f"Report: {root.resolve() / 'index.html'}" in first.stderr
    assert "def subtract" in (root / "calculator/calc.py").read_text()
    middle = git(root, "rev-parse", "HEAD").strip()
    requests_first = len(server.requests)
    assert requests_first == 7

    # a second change, on top of the first; EDIT_FORMAT auto writes this small file whole
    main_after = (
        (root / "calculator/main.py")
        .read_text()
        .replace(
            'OPERATIONS = {"add": add, "subtract": subtract}',
            'OPERATIONS = {"add": add, "subtract": subtract, "multiply": multiply}',
        )
        .replace("from calc import add, subtract\n", "from calc import add, subtract\nfrom more import multiply\n")
    )
    server.handler = change_handler(
        ADD_MULTIPLICATION,
        MULTIPLICATION_PLAN,
        edits={"calculator/main.py": [f"```python\n{main_after}```\n"]},
        tests={"tests/test_change_0002_add_multiplication.py": MULTIPLY_TEST},
        sections={"PRDSections": {"requirement_pool": [{"requirement": "multiply", "priority": "P1"}]}},
        new_files={"calculator/more.py": MORE},
    )

    second = run_cli(server, tmp_path, "add multiplication", "--inc", "--project-path", str(root), "--run-tests")

    assert second.returncode == 0, second.stderr
    assert "Tests: passed (5 passed) in round 1" in second.stderr
    assert git(root, "merge-base", "--is-ancestor", base, "HEAD") == ""
    assert subjects(root, middle) == [
        "Change 0002 (Add multiplication): change request",
        "Change 0002 (Add multiplication): documents and change plan",
        "Change 0002 (Add multiplication): code",
        "Change 0002 (Add multiplication): tests",
        "Change 0002 (Add multiplication): summary",
    ]
    record = json.loads((root / "docs/changes/0002-add-multiplication.json").read_text())
    assert record["base"] == middle
    assert sorted(p.name for p in (root / "docs/changes").iterdir()) == [
        "0001-add-subtraction.diff", "0001-add-subtraction.json", "0001-add-subtraction.md",
        "0002-add-multiplication.diff", "0002-add-multiplication.json", "0002-add-multiplication.md",
    ]  # fmt: skip
    assert "from more import multiply" in (root / "calculator/main.py").read_text()
    whole = server.requests[requests_first + 4].body["messages"][-1]["content"]  # the edit of main.py
    assert "Answer with the complete new code of `calculator/main.py`" in whole
    design = json.loads((root / "docs/system_design.json").read_text())
    assert design["file_list"] == ["calc.py", "main.py", "more.py"]  # the plan's new file is listed
    report = (root / "index.html").read_text()
    assert 'id="change-0002-add-multiplication"' in report and 'id="change-0001-add-subtraction"' in report
    logs = run_cli(server, tmp_path, "logs", str(root))
    assert logs.returncode == 0, logs.stderr
    assert "WriteChangePlan" in logs.stdout and "EditCode" in logs.stdout


def test_cli_leaves_the_users_git_as_it_was(server, tmp_path):
    """`--inc` on a person's repository: their config (remote, tracking branch, identity) and
    their `.git/info/attributes` are byte for byte as before, the change's commits show real
    diffs, and their own git merges two branches touching different lines of one file."""
    root = tmp_path / "workspace" / "calculator"
    base = users_repository(root, attributes="*.py diff=python\n*.md linguist-documentation\n")
    before = {name: (root / ".git" / name).read_bytes() for name in ("config", "info/attributes")}
    server.handler = change_handler()

    changed = run_cli(server, tmp_path, "add subtraction", "--inc", "--project-path", str(root), EDIT_FORMAT="diff")

    assert changed.returncode == 0, changed.stderr
    assert {name: (root / ".git" / name).read_bytes() for name in before} == before
    assert [p.name for p in (root / ".git").rglob("*") if "metagpt" in p.name] == []
    assert git(root, "config", "--get", "user.name") == "The User\n"
    assert git(root, "remote", "get-url", "origin") == "https://example.com/me/calculator.git\n"
    assert git(root, "for-each-ref", "--format=%(refname)") == "refs/heads/experiment\nrefs/heads/main\n"
    patch = git(root, "log", "-p", f"{base}..HEAD")
    assert "Binary files" not in patch
    assert "+def subtract(a: float, b: float) -> float:\n" in patch
    code = git(root, "log", "-1", "--format=%H", "--grep", "): code$").strip()
    assert "+def subtract" in git(root, "show", code, "--", "calculator/calc.py")

    calc = root / "calculator/calc.py"
    lines = calc.read_text().splitlines(keepends=True)
    git(root, "checkout", "-q", "-b", "docstring")
    calc.write_text("".join(['"""Arithmetic, by hand."""\n', *lines[1:]]))
    git(root, "commit", "-qam", "A better docstring")
    git(root, "checkout", "-q", "main")
    calc.write_text("".join([*lines, "\n\ndef negate(a: float) -> float:\n    return -a\n"]))
    git(root, "commit", "-qam", "Negation")
    merged = subprocess.run(["git", "merge", "--no-edit", "docstring"], cwd=root, capture_output=True, text=True)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    text = calc.read_text()
    assert text.startswith('"""Arithmetic, by hand."""\n') and text.endswith("    return -a\n")


def test_cli_refuses_what_it_cannot_change_with_one_line_and_exit_2(tmp_path):
    root = tmp_path / "workspace" / "calculator"
    calculator(root)
    runner = CliRunner()
    env = {"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "WORKSPACE_PATH": str(tmp_path)}

    def errors(*args: str) -> tuple[int, list[str]]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, [line for line in result.output.splitlines() if line.startswith("Error")]

    missing = tmp_path / "nowhere"
    assert errors("add subtraction", "--project-path", str(missing)) == (
        2,
        [f"Error: {missing} does not exist: --project-path takes the folder of an existing project."],
    )
    a_file = root / "calculator/calc.py"
    assert errors("add subtraction", "--project-path", str(a_file)) == (
        2,
        [f"Error: {a_file} is not a folder: --project-path takes the project's folder, not a file in it."],
    )
    assert errors("add subtraction", "--inc") == (
        2,
        ['Error: --inc needs the project to change: metagpt "the change" --project-path workspace/<project>.'],
    )
    a_file.write_text(a_file.read_text() + "# mine\n")
    code, lines = errors("add subtraction", "--project-path", str(root))
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"Error: {root.resolve()} has uncommitted changes (calculator/calc.py)")
    assert git(root, "status", "--porcelain") == " M calculator/calc.py\n"  # nothing was committed or removed
