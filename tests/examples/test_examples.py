"""Every example runs as a user would run it (its own interpreter), on the package's fake model.

The fake model answers plain prompts with a small Python program printing "hello", so the
outputs below are exact: who spoke, to whom, in which round, and what the code printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.terminal import answer_at_terminal

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def run_example(name: str, *args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess:
    return run_script(EXAMPLES / name, *args, cwd=cwd, input=input)


def run_script(script: Path, *args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess:
    """`script` on the fake model, with this checkout importable and no key of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "API_TYPE"))}
    env.update(API_TYPE="fake", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        input=input,
    )


def headers(output: str) -> list[str]:
    return [line[4:] for line in output.splitlines() if line.startswith("--- ")]


def test_customized_agent_writes_code_then_runs_it(tmp_path):
    done = run_example("build_customized_agent.py", "write a function that adds two numbers", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert headers(done.stdout) == ["UserRequirement", "SimpleWriteCode", "SimpleRunCode"]
    assert "=== output of the code:\nhello\n" in done.stdout  # the written code really ran
    assert "1 calls" in done.stdout  # by_order: one model call, no choosing


def test_multi_agents_pass_work_along_for_the_given_rounds(tmp_path):
    done = run_example("build_customized_multi_agents.py", "add two numbers", "--n-round", "5", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert headers(done.stdout) == [
        "Human (UserRequirement)",
        "SimpleCoder (SimpleWriteCode)",
        "SimpleTester (SimpleWriteTest)",
        "SimpleReviewer (SimpleWriteReview)",
        "SimpleTester (SimpleWriteTest)",  # the tester answers the review
        "SimpleReviewer (SimpleWriteReview)",
    ]
    assert "5 calls" in done.stdout


def test_debate_alternates_by_addressing_the_opponent(tmp_path):
    done = run_example("debate.py", "Topic: tabs or spaces", "--n-round", "4", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert headers(done.stdout) == [
        "Human -> Biden",
        "Biden -> Trump",
        "Trump -> Biden",
        "Biden -> Trump",
        "Trump -> Biden",
    ]


@pytest.mark.parametrize("name", ["llm_hello_world.py", "build_project.py"])
def test_other_examples_run(tmp_path, name):
    done = run_example(name, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "Spent $0.0000" in done.stdout


def test_multi_agents_with_a_human_reviewer_at_a_terminal(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "API_TYPE"))}
    env.update(API_TYPE="fake", PYTHONPATH=str(REPO))
    command = [
        sys.executable,
        str(EXAMPLES / "build_customized_multi_agents.py"),
        "add",
        "--n-round",
        "3",
        "--add-human",
    ]
    code, text = answer_at_terminal(command, env, tmp_path, b"Test the empty list too.\n")

    assert code == 0, text
    assert "[Charlie(SimpleReviewer)] your answer" in text
    assert "--- SimpleReviewer (SimpleWriteReview)\nTest the empty list too." in text


def test_multi_agents_with_a_human_answering_from_a_pipe_stops_with_one_line_when_it_runs_dry(tmp_path):
    piped = run_example(
        "build_customized_multi_agents.py",
        "add",
        "--n-round",
        "3",
        "--add-human",
        cwd=tmp_path,
        input="Test the empty list too.\n",
    )

    assert piped.returncode == 0, piped.stderr
    assert "--- SimpleReviewer (SimpleWriteReview)\nTest the empty list too." in piped.stdout

    done = run_example("build_customized_multi_agents.py", "add", "--add-human", cwd=tmp_path, input="")

    # the human's input ran out: the run ends with one line, and what was written is still shown
    assert done.returncode == 0, done.stderr
    stopped = [line for line in done.stderr.splitlines() if "Stopped: " in line]
    assert len(stopped) == 1
    assert stopped[0].endswith(
        "Stopped: Charlie(SimpleReviewer): standard input closed while waiting for an answer; pipe one line per turn."
    )
    assert "Traceback" not in done.stderr
    assert "--- SimpleCoder (SimpleWriteCode)" in done.stdout


def test_the_docs_roles_snippet_runs_as_written(tmp_path):
    page = (REPO / "docs" / "roles.md").read_text(encoding="utf-8")
    code = page.split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "snippet.py"
    script.write_text(code)

    done = run_script(script, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "Alice(SimpleCoder): to do SimpleWriteCode" in done.stderr
    assert "Bob(Shouter): to do ShoutOut" in done.stderr


def test_the_readme_script_runs_as_written_and_writes_a_project(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    code = readme.split("## In a script", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "company.py"
    script.write_text(code)

    done = run_script(script, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    (project,) = (tmp_path / "workspace").iterdir()
    assert (project / "docs" / "prd.md").is_file() and list(project.rglob("*.py"))
