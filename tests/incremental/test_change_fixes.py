"""A change that breaks a baseline test goes through the fix loop; an edit needing another file amends the plan."""

from __future__ import annotations

import json

from tests.incremental.conftest import needs_git
from tests.incremental.scripted import (
    SUBTRACTION_EDITS,
    blocks,
    calculator,
    change,
    change_handler,
    git,
    subjects,
    users_repository,
)

pytestmark = needs_git

ADD = 'def add(a: float, b: float) -> float:\n    """The sum of a and b."""\n'


async def test_a_regression_goes_to_the_engineer_and_the_fix_is_its_own_commit(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    base = calculator(root)
    breaking = blocks(
        "calculator/calc.py", ("    return a + b\n", "    return a - b\n\n\ndef subtract(a, b):\n    return a - b\n")
    )
    fix = blocks("calculator/calc.py", (f"{ADD}    return a - b\n", f"{ADD}    return a + b\n"))
    edits = {**SUBTRACTION_EDITS, "calculator/calc.py": [breaking, fix]}
    server.handler = change_handler(edits=edits)

    company = await change(server, root)

    qa = company.qa_report
    first, second = qa.runs
    assert second.ok and not company.code.regressions(second)
    assert (first.summary, first.file_to_fix, first.send_to) == (
        "2 passed, 2 failed, 0 errors",
        "calculator/calc.py",
        "Engineer",
    )
    assert company.code.regressions(first) == ["tests.test_calc::test_add", "tests.test_calc::test_main_adds"]
    assert qa.final == "passed (4 passed) in round 2"
    assert qa.fixes == ["round 1: `calculator/calc.py` fixed by the Engineer"]
    fix_prompt = server.requests[-1].body["messages"][-1]["content"]
    assert "# Failing tests (round 1)" in fix_prompt and "test_add" in fix_prompt
    assert "make the change in `calculator/calc.py` (make the failing tests pass:" in fix_prompt
    assert subjects(root, base)[4] == "Change 0001 (Add subtraction): fix calculator/calc.py (test round 1)"
    assert "return a + b" in (root / "calculator/calc.py").read_text()
    result = (root / "docs/changes/0001-add-subtraction.md").read_text()
    assert "Tests: passed (4 passed) in round 2" in result


async def test_an_edit_that_needs_an_unplanned_file_amends_the_plan_and_says_so(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    base = calculator(root)
    main = SUBTRACTION_EDITS["calculator/main.py"][0] + blocks(
        "calculator/names.py", ("", 'NAMES = ["add", "subtract"]\n')
    )
    server.handler = change_handler(edits={**SUBTRACTION_EDITS, "calculator/main.py": [main]})

    await change(server, root, run_tests=False)

    assert (root / "calculator/names.py").read_text() == 'NAMES = ["add", "subtract"]\n'
    record = json.loads((root / "docs/changes/0001-add-subtraction.json").read_text())
    assert record["amendments"] == ["create `calculator/names.py`: the edits of `calculator/main.py` needed it"]
    assert record["plan"]["files"][-1] == {
        "action": "create", "path": "calculator/names.py", "new_path": "", "reason": "needed by calculator/main.py",
    }  # fmt: skip
    markdown = (root / "docs/changes/0001-add-subtraction.md").read_text()
    assert (
        "## Plan amendments\n\n- create `calculator/names.py`: the edits of `calculator/main.py` needed it" in markdown
    )
    changed = set(git(root, "diff", "--name-only", base, "HEAD").split())
    planned = {item["path"] for item in record["plan"]["files"]}
    assert {p for p in changed if not p.startswith(("docs/", "tests/"))} == planned


async def test_python_that_does_not_parse_after_the_edits_goes_back_once(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    calculator(root)
    broken = blocks(
        "calculator/calc.py", ("    return a + b\n", "    return a + b\n\n\ndef subtract(a, b)\n    return a - b\n")
    )
    edits = {**SUBTRACTION_EDITS, "calculator/calc.py": [broken, *SUBTRACTION_EDITS["calculator/calc.py"]]}
    server.handler = change_handler(edits=edits)

    await change(server, root, run_tests=False)

    retry = server.requests[5].body["messages"][-1]["content"]
    assert retry.startswith("After these edits `calculator/calc.py` does not parse: expected ':' (line 9)")
    assert "def subtract(a: float, b: float) -> float:" in (root / "calculator/calc.py").read_text()


async def test_a_repository_of_its_own_keeps_its_config_and_history(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    base = users_repository(root)  # no .git/info/attributes of its own
    own = (root / ".git/config").read_bytes()
    server.handler = change_handler()

    await change(server, root, run_tests=False)

    assert (root / ".git/config").read_bytes() == own
    assert not (root / ".git/info/attributes").exists()  # and none was left behind
    assert [p.name for p in (root / ".git").iterdir() if "metagpt" in p.name] == []
    assert git(root, "for-each-ref", "--format=%(refname)") == (
        "refs/heads/experiment\nrefs/heads/main\n"
    )  # the change's resume ref is gone
    assert git(root, "merge-base", "--is-ancestor", base, "HEAD") == ""
    assert git(root, "log", "-1", "--format=%an", base).strip() == "The User"
    assert git(root, "log", "-1", "--format=%an").strip() == "MetaGPT"
