"""A scripted model for changes to the calculator fixture, served by the loopback OpenAI server.

`change_handler` answers each of a change's requests by what it asks for: the change request,
section edits and change plan by their `json_schema` name; the Engineer's edits, new files and
QA's tests by the file their prompt names. Edits are lists, answered in turn (a retry gets the
next one). A request nobody scripted fails the test loudly.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metagpt.incremental.company import ChangeCompany
from metagpt.incremental.history import ChangeHistory
from tests.e2e.conftest import openai_config
from tests.e2e.openai_server import DOCUMENTS, Reply, answer, prompt_text, sample_document

FIXTURE = Path(__file__).parent / "fixtures" / "calculator"

ADD_SUBTRACTION = {
    "title": "Add subtraction",
    "kind": "feature",
    "request": "The calculator also subtracts: `python main.py subtract 5 3` prints 2.",
    "acceptance_criteria": ["subtract(5, 3) returns 2", "main(['subtract', '5', '3']) returns '2'"],
    "sections_touched": [
        {"document": "prd", "section": "Requirement Pool"},
        {"document": "api_spec_and_tasks", "section": "Logic Analysis"},
    ],
}
SUBTRACTION_PLAN = {
    "files": [
        {"action": "modify", "path": "calculator/calc.py", "new_path": "", "reason": "add subtract(a, b)"},
        {"action": "modify", "path": "calculator/main.py", "new_path": "", "reason": "offer the subtract operation"},
    ]
}
SECTIONS = {
    "PRDSections": {
        "requirement_pool": [
            {"requirement": "add(a, b) returns the sum", "priority": "P0"},
            {"requirement": "main prints the result", "priority": "P1"},
            {"requirement": "subtract(a, b) returns the difference", "priority": "P0"},
        ]
    },
    "TasksSections": {
        "logic_analysis": [
            {"file": "calc.py", "description": "add(a, b) and subtract(a, b)"},
            {"file": "main.py", "description": "parses `add|subtract A B` and prints the result"},
        ]
    },
}


def blocks(path: str, *pairs: tuple[str, str]) -> str:
    """An Engineer's answer: one fenced SEARCH/REPLACE block per (search, replace) pair."""
    parts = [f"```python\n{path}\n<<<<<<< SEARCH\n{s}=======\n{r}>>>>>>> REPLACE\n```" for s, r in pairs]
    return "I will make the change with these edits.\n\n" + "\n\n".join(parts) + "\n"


SUBTRACTION_EDITS = {
    "calculator/calc.py": [
        blocks(
            "calculator/calc.py",
            (
                "    return a + b\n",  # quoted as in the file
                '    return a + b\n\n\ndef subtract(a: float, b: float) -> float:\n    """a minus b."""\n'
                "    return a - b\n",
            ),
        )
    ],
    "calculator/main.py": [
        blocks(
            "calculator/main.py",
            ("from calc import add\n", "from calc import add, subtract\n"),
            ('OPERATIONS = {"add": add}  \n', 'OPERATIONS = {"add": add, "subtract": subtract}\n'),  # trailing space
        )
    ],
}
SUBTRACTION_TEST = (
    "```python\nfrom calc import subtract\nfrom main import main\n\n\ndef test_subtract():\n"
    "    assert subtract(5, 3) == 2\n\n\ndef test_main_subtracts():\n"
    "    assert main(['subtract', '5', '3']) == '2'\n```\n"
)
TEST_FILE = "tests/test_change_0001_add_subtraction.py"

_EDIT = re.compile(r"make the change in `([^`]+)`")
_NEW = re.compile(r"write the complete code of `([^`]+)`, a new file")
_TEST = re.compile(r"write `(tests/[^`]+)`: pytest tests")


def change_handler(
    request: dict[str, Any] = ADD_SUBTRACTION,
    plan: dict[str, Any] = SUBTRACTION_PLAN,
    edits: dict[str, list[str]] | None = None,
    tests: dict[str, str] | None = None,
    sections: dict[str, dict[str, Any]] | None = None,
    new_files: dict[str, str] | None = None,
    on_request: Callable[[dict[str, Any]], None] | None = None,
) -> Callable[[dict[str, Any]], Reply]:
    edits = {path: list(answers) for path, answers in (edits if edits is not None else SUBTRACTION_EDITS).items()}
    tests = tests if tests is not None else {TEST_FILE: SUBTRACTION_TEST}
    sections = sections if sections is not None else SECTIONS

    def reply(body: dict[str, Any]) -> Reply:
        if on_request is not None:
            on_request(body)
        name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
        if name == "ChangeRequest":
            return answer(json.dumps(request))
        if name == "ChangePlan":
            return answer(json.dumps(plan))
        if name in sections:
            return answer(json.dumps(sections[name]))
        if name in DOCUMENTS:  # documents describing a folder of code
            return answer(json.dumps(sample_document(DOCUMENTS[name])))
        text = prompt_text(body)
        if match := _EDIT.search(text):
            return answer(edits[match.group(1)].pop(0))
        if match := _NEW.search(text):
            return answer((new_files or {})[match.group(1)])
        if match := _TEST.search(text):
            return answer(tests[match.group(1)])
        raise AssertionError(f"unscripted request: {text[-300:]!r}")

    return reply


def calculator(root: Path, report: bool = False) -> str:
    """The fixture copied to `root` and committed as a finished MetaGPT run; returns the base sha.

    Its `.gitignore` already has a change's lines, so a change starts from this very commit;
    with `report`, the run committed its `index.html` as versions before the history policy did
    (`git_history.NEVER_COMMITTED`).
    """
    shutil.copytree(FIXTURE, root)
    history = ChangeHistory(root)
    history.init()
    if report:
        (root / "index.html").write_text("<html>the first run's report</html>\n")
        history._git("add", "-f", "index.html")
    history._commit("Code: 2 files of calculator", pictures=True)
    return git(root, "rev-parse", "HEAD").strip()


def users_repository(root: Path, attributes: str | None = None) -> str:
    """The fixture as a person's own repository, made and committed with their git: their
    identity, a remote the branch tracks, a second branch and, with `attributes`, their own
    `.git/info/attributes`. Returns the HEAD sha."""
    shutil.copytree(FIXTURE, root)
    git(root, "init", "-q", "-b", "main")
    for key, value in (
        ("user.name", "The User"),
        ("user.email", "user@example.com"),
        ("remote.origin.url", "https://example.com/me/calculator.git"),
        ("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"),
        ("branch.main.remote", "origin"),
        ("branch.main.merge", "refs/heads/main"),
    ):
        git(root, "config", key, value)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "My calculator")
    git(root, "branch", "experiment")
    if attributes is not None:
        (root / ".git" / "info").mkdir(exist_ok=True)
        (root / ".git" / "info" / "attributes").write_text(attributes)
    return git(root, "rev-parse", "HEAD").strip()


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=30)
    return result.stdout


def subjects(root: Path, base: str) -> list[str]:
    return git(root, "log", "--reverse", "--format=%s", f"{base}..HEAD").splitlines()


def sections_of(markdown: str) -> dict[str, str]:
    """`## ` heading -> its text, as the document's file holds it."""
    from metagpt.incremental.sections import split_sections

    return {title: text for title, text in split_sections(markdown) if title}


async def change(
    server, root: Path, request: str = "add subtraction", run_tests: bool = True, engines=None, **settings
) -> ChangeCompany:
    """Run one change on `root` to its end (or its error); the company is returned either way.

    `engines` (a list of diagram engines) replaces the renderer's own choice."""
    allow_dirty = settings.pop("allow_dirty", False)
    config = openai_config(server.base_url, workspace_path=root.parent, **{"edit_format": "diff", **settings})
    company = ChangeCompany(config)
    if engines is not None:
        from metagpt.render import DiagramRenderer

        company.context._diagrams = DiagramRenderer(config, engines=engines)
    company.hire_for_change(run_tests=run_tests)
    company.invest(3.0)
    company.open_project(root, request, allow_dirty=allow_dirty)
    try:
        await company.run()
    finally:
        await company.context.aclose()
    return company
