"""MetaGPT 0.4-0.8's examples, unchanged, each in its own interpreter against a loopback endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import lines, run_script, tutorial_reply
from tests.e2e.openai_server import OpenAIServer, Reply, answer, prompt_text, realistic_reply

NOVEL = {
    "name": "Reborn in Skyrim",
    "user_group": "gamers",
    "outlines": ["Chapter 1: waking", "Chapter 2: the dragon"],
    "background": "Tamriel",
    "character_names": ["Lydia", "Ulfric"],
    "conflict": "war",
    "plot": "a hero returns",
    "ending": "peace",
}
CHAPTERS = {"chapters": [{"name": "Waking", "content": "..."}, {"name": "The dragon", "content": "..."}]}
DIRECTORY = {"title": "MySQL in an hour", "directory": [{"Install": ["apt"]}, {"Queries": ["SELECT", "JOIN"]}]}
STRUCTURED = {"Novel_AN": NOVEL, "Chapters_AN": CHAPTERS, "TutorialDirectory": DIRECTORY}
"""Answers by the schema name each structured request sends."""


def example_reply(request: dict[str, Any]) -> Reply:
    """Structured requests get a valid sample of their schema (strict mode checked); debaters
    answer with the model they were sent to; the rest answer like the tutorials' model."""
    response_format = request.get("response_format") or {}
    name = (response_format.get("json_schema") or {}).get("name")
    if name in STRUCTURED:
        return answer(json.dumps(STRUCTURED[name]))
    if response_format:
        return realistic_reply(request)
    last = str(request["messages"][-1]["content"])
    if "Express your opinion" in last:
        return answer(f"{request['model']} opinion {last.count('turbo opinion') + 1}")
    if "Now write in detail" in last:
        section = "Install" if "Install" in last or "Getting started" in last else "Queries"
        return answer(f"## {section}\nText of {section}.")
    if last.startswith("Summarize: "):
        return answer(f"summary of {last.removeprefix('Summarize: the latest news about ')}")
    return tutorial_reply(request)


@pytest.fixture
def example_server(allow_model_requests: None):
    with OpenAIServer(example_reply) as server:
        yield server
    assert not server.errors


def test_simple_debate_on_generic_actions_with_two_models_and_one_budget(example_server, tmp_path):
    done = run_script("debate_simple.py", example_server, tmp_path)

    assert done.returncode == 0, done.stderr
    assert lines(done.stdout, "MSG") == [
        "Human: Topic: climate change. Under 80 words per message.",
        "Alex: gpt-4-turbo opinion 1",
        "Bob: gpt-3.5-turbo opinion 2",
        "Alex: gpt-4-turbo opinion 3",
        "Bob: gpt-3.5-turbo opinion 4",
        "Alex: gpt-4-turbo opinion 5",
    ]
    assert [body["model"] for body in example_server.bodies] == ["gpt-4-turbo", "gpt-3.5-turbo"] * 2 + ["gpt-4-turbo"]
    last = example_server.bodies[-1]["messages"]
    assert "Alex" in last[0]["content"] and "Democratic candidate" in last[0]["content"]  # the role's system prompt
    assert last[-1]["content"].startswith("## History Messages\n0: Republican candidate: gpt-3.5-turbo opinion 4")
    (cost,) = lines(done.stdout, "COST")
    assert float(cost) > 0  # priced models, charged to the team's investment


def test_novel_on_nested_action_nodes_validates_over_http(example_server, tmp_path):
    done = run_script("write_novel.py", example_server, tmp_path)

    assert done.returncode == 0, done.stderr
    assert lines(done.stdout, "NOVEL") == ["Reborn in Skyrim ['Lydia', 'Ulfric']"]
    assert lines(done.stdout, "CHAPTERS") == ["['Waking', 'The dragon']"]
    novel, chapters = example_server.bodies
    assert novel["response_format"]["type"] == "json_schema"  # the structured path, not tag parsing
    assert novel["response_format"]["json_schema"]["name"] == "Novel_AN"
    chapter_schema = chapters["response_format"]["json_schema"]["schema"]
    assert chapter_schema["$defs"]["Chapter"]["required"] == ["name", "content"]
    assert '"name": "Reborn in Skyrim"' in prompt_text(chapters)  # the novel's content as context
    assert "The Lord of the Rings" in prompt_text(novel)  # the field defaults shown as the example


def test_llm_hello_world_and_the_dict_shaped_completion(example_server, tmp_path):
    done = run_script("llm_hello_world.py", example_server, tmp_path)

    assert done.returncode == 0, done.stderr
    assert lines(done.stdout, "DICT") == ["Hello! How can I help? True"]
    assert lines(done.stdout, "TEXT") == ["Hello! How can I help?"]
    assert [body.get("stream", False) for body in example_server.bodies] == [False] * 5 + [True]


def test_tutorial_assistant_writes_directory_then_sections(example_server, tmp_path):
    done = run_script("tutorial_assistant.py", example_server, tmp_path)

    assert done.returncode == 0, done.stderr
    (path,) = lines(done.stdout, "FILE")
    assert path.startswith(str(tmp_path / "workspace" / "tutorial_docx"))
    assert path.endswith("MySQL in an hour.md")
    text = Path(path).read_text(encoding="utf-8")
    assert text == "# MySQL in an hour\n\n\n## Install\nText of Install.\n\n\n## Queries\nText of Queries."
    assert len(example_server.requests) == 3  # the directory, then one request per section
    assert "{'Queries': ['SELECT', 'JOIN']}" in prompt_text(example_server.bodies[2])


def test_subscription_runner_calls_back_with_each_answer(example_server, tmp_path):
    done = run_script("subscription.py", example_server, tmp_path)

    assert done.returncode == 0, done.stderr
    assert lines(done.stdout, "CALLBACK") == ["summary of OpenAI", "summary of MetaGPT"]


def test_team_with_a_human_reviewer_answering_from_a_pipe(tutorial_server, tmp_path):
    done = run_script("team_declarative.py", tutorial_server, tmp_path, "--add-human", input="LGTM\nAdd edge cases\n")

    assert done.returncode == 0, done.stderr
    shown = done.stdout.replace("('exit' to stop): ", "('exit' to stop): \n")
    assert lines(shown, "MSG")[3:] == [
        "SimpleReviewer SimpleWriteReview: LGTM",
        "SimpleTester SimpleWriteTest: def test_product():",
        "SimpleReviewer SimpleWriteReview: Add edge cases",
    ]
    assert len(tutorial_server.requests) == 3  # coder, tester, tester again: the human is no request
    assert "Review the test cases" in done.stdout  # the human was shown what the model would be asked


def test_a_human_whose_pipe_runs_dry_stops_the_run_with_one_line(tutorial_server, tmp_path):
    done = run_script("team_declarative.py", tutorial_server, tmp_path, "--add-human", input="LGTM\n")

    assert done.returncode == 0, done.stderr  # the run ended; the script went on with its history
    assert "Stopped: Charlie(SimpleReviewer): standard input closed while waiting for an answer" in done.stderr
    assert "Traceback" not in done.stderr
