"""The whole company over the real `openai` SDK against a loopback server, in process and via the CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from metagpt.actions import PRD, SystemDesign, Tasks, WriteDesign, WriteTasks
from metagpt.actions.document import strip_fence
from metagpt.actions.write_code import CODE_STOP
from metagpt.config import Config
from metagpt.cost_manager import TOKEN_PRICES
from metagpt.exceptions import NoMoneyException
from metagpt.provider.base import prompt_allowance
from metagpt.reservation import schema_tokens
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
from metagpt.software_company import SoftwareCompany
from metagpt.utils.structured import format_instructions
from metagpt.utils.token_counter import count_message_tokens
from tests.e2e.conftest import API_KEY, MODEL, openai_config
from tests.e2e.openai_server import (
    OpenAIServer,
    Reply,
    answer,
    code_answer,
    realistic_reply,
    requested_code_file,
    requested_document,
    sample_document,
)
from tests.environ import settings_free_environ

IDEA = "a command-line snake game"
STARTUP = Path(__file__).resolve().parents[2] / "startup.py"
REQUIREMENT = "windows-curses==2.4.1; sys_platform == 'win32'"
ROLES = ["Product Manager", "Architect", "Project Manager"] + ["Engineer"] * 6
"""Who makes each request of a full run, in order (the Engineer writes three files and reviews them)."""


def tasks_document() -> dict[str, Any]:
    """The task list the server answers: the schema's example, with one requirement."""
    return {**sample_document(Tasks), "required_python_third_party_packages": [REQUIREMENT]}


def engineer_calls(bodies: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """`("write" or "review", file)` for each of the Engineer's requests, in the order they were sent."""
    calls: list[tuple[str, str | None]] = []
    for body in bodies:
        if "response_format" in body:
            calls.append(("review", body["messages"][-1]["content"].split("# Code to review: `", 1)[1].split("`")[0]))
        else:
            calls.append(("write", requested_code_file(body)))
    return calls


def company_reply(body: dict[str, Any]) -> Reply:
    """Realistic answers, with a task list that needs a third-party package."""
    if requested_document(body) is Tasks:
        return answer(json.dumps(tasks_document()))
    return realistic_reply(body)


def dollars(usage: dict[str, int]) -> float:
    """Cost of one call from the price table, computed independently of the cost manager."""
    price = TOKEN_PRICES[MODEL]
    return (usage["prompt_tokens"] * price.prompt + usage["completion_tokens"] * price.completion) / 1_000_000


def worst_case(body: dict[str, Any]) -> float:
    """What the budget check reserves for a request: the most prompt tokens the usage check accepts
    for its prompt and schema, plus `max_tokens` of answer (completions cost more than prompts here)."""
    prompt_tokens = count_message_tokens(body["messages"], MODEL)
    if "response_format" in body:
        document = {"PRD": PRD, "SystemDesign": SystemDesign, "Tasks": Tasks}[
            body["response_format"]["json_schema"]["name"]
        ]
        prompt_tokens += schema_tokens(document.model_json_schema(), MODEL)
    return dollars({"prompt_tokens": prompt_allowance(prompt_tokens), "completion_tokens": body["max_tokens"]})


def build_company(config: Config, investment: float = 3.0) -> SoftwareCompany:
    """The four roles, hired and funded, with `IDEA` as the project."""
    company = SoftwareCompany(config)
    company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
    company.invest(investment)
    company.start_project(IDEA)
    return company


async def run(company: SoftwareCompany) -> SoftwareCompany:
    """Run the company; its provider is closed afterwards, even on errors."""
    try:
        await company.run(n_round=5)
    finally:
        await company.context.aclose()
    return company


async def budget_for_calls(calls: int, **settings: Any) -> float:
    """An investment that pays for the first `calls` requests of a run and refuses the next.

    A dry run on a separate server gives each request's worst case (what the budget check
    reserves) and real cost; the runs are deterministic, so a second run sends the same
    requests. The investment lies halfway between the least that lets the first `calls`
    through and the most that still refuses the next one.
    """
    with OpenAIServer(company_reply) as server:
        await run(build_company(openai_config(server.base_url, **settings)))
    bodies, usages = server.bodies, server.usages
    spent = [sum(dollars(u) for u in usages[:n]) for n in range(len(usages) + 1)]
    enough = max(spent[n] + worst_case(bodies[n]) for n in range(calls))
    too_little = spent[calls] + worst_case(bodies[calls])
    assert enough < too_little, "no investment separates these calls; lower max_tokens"
    return (enough + too_little) / 2


def tasks_request(company: SoftwareCompany) -> dict[str, Any]:
    """The request the Project Manager would have sent next, as the budget check priced it."""
    manager = next(role for role in company.environment.roles.values() if isinstance(role, ProjectManager))
    design = company.environment.history.get_by_action(WriteDesign)[-1].content
    action = WriteTasks()
    prompt = f"{action.prompt(design=design)}\n\n{format_instructions(Tasks)}"
    messages = manager.llm.messages(prompt, [manager.system_prompt])
    return {
        "messages": messages,
        "max_tokens": company.context.config.max_tokens,
        "response_format": {"json_schema": {"name": "Tasks"}},
    }


# -- in process ----------------------------------------------------------------------------------


async def test_full_run_writes_every_document_and_file_and_charges_the_reported_usage(openai_server, tmp_path):
    openai_server.handler = company_reply
    workspace = tmp_path / "workspace"

    company = await run(build_company(openai_config(openai_server.base_url, workspace_path=workspace)))

    root = company.project.path
    assert root == (workspace / "cli_snake_game").resolve()
    prd = PRD.model_validate_json((root / "docs/prd.json").read_text())
    design = SystemDesign.model_validate_json((root / "docs/system_design.json").read_text())
    tasks = Tasks.model_validate_json((root / "docs/api_spec_and_tasks.json").read_text())
    assert prd == PRD.model_validate(sample_document(PRD))  # the server's answers, saved as sent
    assert design == SystemDesign.model_validate(sample_document(SystemDesign))
    assert tasks == Tasks.model_validate(tasks_document())
    for document in (prd, design, tasks):
        assert (root / f"docs/{document.filename}.md").read_text() == document.to_markdown()
    resources = {**prd.mermaid_resources(), **design.mermaid_resources()}
    assert sorted(resources) == ["competitive_analysis", "data_api_design", "seq_flow"]
    for stem, code in resources.items():
        assert (root / f"resources/{stem}.mmd").read_text() == code + "\n"
        assert code == strip_fence(code) and code
    assert (root / "requirements.txt").read_text() == REQUIREMENT + "\n"
    assert tasks.task_list == ["snake.py", "game.py", "main.py"]
    for name in tasks.task_list:
        # The server stops at CODE_STOP, as OpenAI does; the Engineer keeps the code inside the fence.
        expected = code_answer(name).split("\n", 1)[1].split(CODE_STOP[0])[0] + "\n"
        assert (root / design.python_package_name / name).read_text() == expected

    bodies = openai_server.bodies
    kinds = [(body.get("response_format") or {}).get("json_schema", {}).get("name") for body in bodies]
    # three documents, then the three files in dependency order (snake <- game <- main), each
    # reviewed as soon as it is written, while the files after it are being written
    assert kinds[:3] == ["PRD", "SystemDesign", "Tasks"]
    assert sorted(kinds[3:], key=str) == [None, None, None, "ReviewVerdict", "ReviewVerdict", "ReviewVerdict"]
    assert all(body["response_format"]["json_schema"]["strict"] for body in bodies if "response_format" in body)
    assert all(r.status == 200 for r in openai_server.requests)  # every strict schema was accepted
    assert IDEA in bodies[0]["messages"][-1]["content"]
    assert prd.to_markdown().strip() in bodies[1]["messages"][-1]["content"]  # PRD -> Architect
    assert design.to_markdown().strip() in bodies[2]["messages"][-1]["content"]  # design -> Project Manager
    code_prompts = [body["messages"][-1]["content"] for body, kind in zip(bodies, kinds, strict=True) if kind is None]
    for prompt, name in zip(code_prompts, tasks.task_list, strict=True):
        assert f"write the complete code of `{name}`" in prompt
    assert "## snake.py" in code_prompts[1]  # game.py uses Snake: snake.py's code is its context
    assert "## snake.py" in code_prompts[2] and "## game.py" in code_prompts[2]  # main.py runs both
    assert all(body["stop"] == CODE_STOP for body, kind in zip(bodies, kinds, strict=True) if kind is None)
    sent = engineer_calls(bodies[3:])
    assert sorted(sent) == sorted(
        [("review", name) for name in tasks.task_list] + [("write", name) for name in tasks.task_list]
    )
    for name in tasks.task_list:  # a file's review comes after it is written
        assert sent.index(("review", name)) > sent.index(("write", name))
    assert sent.index(("review", "snake.py")) < sent.index(("write", "main.py"))  # pipelined
    assert (root / "docs/code_review.md").read_text().count("**LGTM**") == 3

    costs = company.cost_manager
    usages = openai_server.usages
    assert len(usages) == costs.total.calls == 9
    assert costs.total.prompt_tokens == sum(u["prompt_tokens"] for u in usages)
    assert costs.total.completion_tokens == sum(u["completion_tokens"] for u in usages)
    assert costs.total_cost == pytest.approx(sum(dollars(u) for u in usages), rel=1e-12)
    assert costs.total_cost > 0
    for role in set(ROLES):
        mine = [dollars(u) for u, who in zip(usages, ROLES, strict=True) if who == role]
        assert (costs.by_role[role].calls, costs.by_role[role].cost) == (len(mine), pytest.approx(sum(mine)))


async def test_budget_stop_sends_nothing_it_cannot_pay_for_and_keeps_the_files(openai_server, tmp_path):
    """Two calls fit the investment, the third's worst case does not: it is never sent."""
    settings = {"max_tokens": 2000, "workspace_path": tmp_path / "workspace"}
    investment = await budget_for_calls(2, **{**settings, "workspace_path": tmp_path / "dry_run"})
    openai_server.handler = company_reply
    company = build_company(openai_config(openai_server.base_url, **settings), investment)

    with pytest.raises(NoMoneyException) as raised:
        await run(company)

    spent = sum(dollars(u) for u in openai_server.usages)
    assert len(openai_server.requests) == company.cost_manager.total.calls == 2  # the task list was never asked
    assert company.cost_manager.total_cost == pytest.approx(spent, rel=1e-12)
    assert company.cost_manager.total_cost <= investment
    assert raised.value.spent == pytest.approx(spent, rel=1e-12)
    assert raised.value.investment == investment
    assert investment < spent + raised.value.estimate  # the refused call really could have overspent
    assert raised.value.estimate == pytest.approx(worst_case(tasks_request(company)), rel=1e-12)
    root = tmp_path / "workspace" / "cli_snake_game"
    for stem in ("prd", "system_design"):
        assert (root / f"docs/{stem}.md").is_file()
        assert (root / f"docs/{stem}.json").is_file()
    assert not (root / "docs/api_spec_and_tasks.json").exists()
    assert not (root / "requirements.txt").exists()


# -- the CLI, as a user runs it --------------------------------------------------------------------


def run_cli(server: OpenAIServer, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python startup.py IDEA ARGS` in `cwd`, configured only through the environment."""
    environ = settings_free_environ()
    environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=API_KEY, OPENAI_API_MODEL=MODEL, **env)
    return subprocess.run(
        [sys.executable, str(STARTUP), IDEA, *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_run_builds_the_project_and_reports_the_spend(openai_server, tmp_path):
    openai_server.handler = company_reply

    result = run_cli(openai_server, tmp_path)

    assert result.returncode == 0, result.stderr
    root = (tmp_path / "workspace" / "cli_snake_game").resolve()
    for path in ("docs/prd.md", "docs/system_design.json", "docs/api_spec_and_tasks.md", "requirements.txt"):
        assert (root / path).is_file()
    for name in ("snake.py", "game.py", "main.py"):
        assert f"print({name!r})" in (root / "cli_snake_game" / name).read_text()
    usages = openai_server.usages
    assert len(openai_server.requests) == len(usages) == 9
    total = sum(dollars(u) for u in usages)
    prompt_tokens = sum(u["prompt_tokens"] for u in usages)
    completion_tokens = sum(u["completion_tokens"] for u in usages)
    assert f"Project: {root}\n" in result.stderr
    # with docs/code_review.md, and with the rendered diagrams and the report when an engine is installed
    parts = [p.relative_to(root).parts for p in root.rglob("*") if p.is_file()]
    written = [p for p in parts if p[0] != "logs" and not any(part.startswith(".") for part in p)]  # not git's
    assert f"Files written ({len(written)}):" in result.stderr
    tokens = rf"\({prompt_tokens} prompt \+ {completion_tokens} completion tokens, 9 calls\)"
    spent = rf"Spent \${total:.4f} of \$3\.0+ {tokens}"
    assert re.search(spent, result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert "Product Requirement Document" in (root / "logs/metagpt.log").read_text()  # prompts are logged


def test_cli_a_review_that_never_validates_is_skipped_and_the_run_ends_with_exit_0(openai_server, tmp_path):
    def never_a_verdict(body: dict[str, Any]) -> Reply:
        name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
        return answer('{"verdict": "looks fine to me"}') if name == "ReviewVerdict" else company_reply(body)

    openai_server.handler = never_a_verdict

    result = run_cli(openai_server, tmp_path, MAX_FORMAT_RETRIES="1")

    assert result.returncode == 0, result.stderr
    root = (tmp_path / "workspace" / "cli_snake_game").resolve()
    review = (root / "docs/code_review.md").read_text()
    for name in ("snake.py", "game.py", "main.py"):
        assert f"print({name!r})" in (root / "cli_snake_game" / name).read_text()  # the code is kept
        assert f"- `{name}`, round 1: **skipped**: The model did not return a valid ReviewVerdict" in review
    assert len(openai_server.requests) == 3 + 3 + 3 * 2  # documents, code, two tries of each review
    assert "review of main.py skipped" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_tiny_investment_exits_3_before_sending_anything(openai_server, tmp_path):
    result = run_cli(openai_server, tmp_path, "--investment", "0.0001")

    assert result.returncode == 3, result.stderr
    assert "Stopped: Budget exhausted: spent $0.0000 of $0.0001" in result.stderr
    assert "Raise --investment" in result.stderr
    assert "Spent $0.0000 of $0.0001 (0 prompt + 0 completion tokens, 0 calls)" in result.stderr
    assert "Traceback" not in result.stderr
    assert openai_server.requests == []
    root = tmp_path / "workspace" / "command_line_snake_game"  # named from the idea: no design yet
    assert f"Project: {root.resolve()}\n" in result.stderr
    assert root.is_dir()
    assert not (root / "docs").exists()


async def test_cli_budget_stop_keeps_the_prd(openai_server, tmp_path):
    """The investment pays for the PRD only: exit code 3, the PRD is on disk, one request sent."""
    investment = await budget_for_calls(1, max_tokens=1500, workspace_path=tmp_path / "dry_run")
    openai_server.handler = company_reply

    result = run_cli(openai_server, tmp_path, "--investment", repr(investment), MAX_TOKENS="1500")

    assert result.returncode == 3, result.stderr
    [usage] = openai_server.usages
    assert len(openai_server.requests) == 1
    assert f"Stopped: Budget exhausted: spent ${dollars(usage):.4f} of ${investment:.4f}" in result.stderr
    root = tmp_path / "workspace" / "command_line_snake_game"  # the Architect never named the package
    assert PRD.model_validate_json((root / "docs/prd.json").read_text()) == PRD.model_validate(sample_document(PRD))
    assert (root / "docs/prd.md").is_file()
    assert (root / "resources/competitive_analysis.mmd").is_file()
    assert not (root / "docs/system_design.json").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_cli_run_with_tests_reviews_tests_and_keeps_the_history(openai_server, tmp_path):
    openai_server.handler = company_reply

    result = run_cli(openai_server, tmp_path, "--run-tests")

    assert result.returncode == 0, result.stderr
    root = (tmp_path / "workspace" / "cli_snake_game").resolve()
    tests = sorted(p.name for p in (root / "tests").iterdir())
    assert tests == ["test_game.py", "test_snake.py"]  # main.py, the entry point, is run by them, not tested
    assert (root / "docs/code_review.md").read_text().count("**LGTM**") == 3
    report = (root / "docs/qa_report.md").read_text()
    assert "**Result: passed (2 passed) in round 1**" in report
    assert "Tests: passed (2 passed) in round 1 (docs/qa_report.md)" in result.stderr
    log = subprocess.run(["git", "log", "--format=%s", "--reverse"], cwd=root, capture_output=True, text=True)
    assert log.stdout.splitlines() == [
        "Product Manager: WritePRD",
        "Architect: WriteDesign",
        "Project Manager: WriteTasks",
        "Code: 3 files of cli_snake_game",
        "Code review",
        "Tests: 2 files",
        "Test round 1: 2 passed",
        # The rendered diagrams, the run's last commit, when an engine drew them (the report never is).
        *(["Diagrams"] if [p for p in (root / "resources").iterdir() if p.suffix in (".svg", ".png")] else []),
    ]
    kinds = [(body.get("response_format") or {}).get("json_schema", {}).get("name") for body in openai_server.bodies]
    assert len(kinds) == 3 + 3 + 3 + 2  # documents, code, reviews, tests: the first run passed
