"""Scripts in the shape of MetaGPT's tutorials run unchanged against an OpenAI-compatible endpoint.

Each script runs in its own interpreter, configured only through the environment, against a
loopback server speaking the OpenAI API; the tests check what the roles said to each other.
"""

from __future__ import annotations

from tests.compat.conftest import lines, run_script
from tests.e2e.openai_server import prompt_text


def test_declarative_agent_writes_then_runs_code_by_order(tutorial_server, tmp_path):
    done = run_script("agent_declarative.py", tutorial_server, tmp_path)

    assert done.returncode == 0, done.stderr
    assert lines(done.stdout, "RESULT") == ["__main__.SimpleRunCode: 24"]  # the generated code really ran
    assert len(tutorial_server.requests) == 1  # by_order asks no model which action comes next
    system, user = tutorial_server.bodies[0]["messages"]
    assert system == {"role": "system", "content": system["content"]}
    assert "Alice, in the role of RunnableCoder" in system["content"]
    assert "calculates the product of a list and run it" in user["content"]


def test_plain_class_agent_with_its_own_think_and_react_and_the_llm_api(tutorial_server, tmp_path):
    done = run_script("agent_plain.py", tutorial_server, tmp_path)

    assert done.returncode == 0, done.stderr
    assert lines(done.stdout, "COMPLETION") == ["Hello! How can I help?"]
    assert lines(done.stdout, "BATCH") == ["['Hello! How can I help?', 'Hello! How can I help?']"]
    assert lines(done.stdout, "RESULT") == [
        "Alice(SimpleCoder) ['UserRequirement', 'SimpleWriteCode', 'SimpleCheck']: LGTM"
    ]
    prompts = [prompt_text(body) for body in tutorial_server.bodies]
    assert len(prompts) == 6  # aask, acompletion, two batch calls, then the two actions
    assert "def product" in prompts[-1]  # the check saw the code written before it


def test_team_of_coder_tester_reviewer_exchanges_messages(tutorial_server, tmp_path):
    done = run_script("team_declarative.py", tutorial_server, tmp_path)

    assert done.returncode == 0, done.stderr
    assert lines(done.stdout, "MSG") == [
        "Human UserRequirement: write a function that calculates the product of a list",
        "SimpleCoder SimpleWriteCode: def product(xs):",
        "SimpleTester SimpleWriteTest: def test_product():",
        "SimpleReviewer SimpleWriteReview: Add a test for the empty list.",
        "SimpleTester SimpleWriteTest: def test_product():",  # the tester watches reviews too
        "SimpleReviewer SimpleWriteReview: Add a test for the empty list.",
    ]
    tester_prompt = tutorial_server.bodies[1]["messages"][-1]["content"]
    assert "SimpleCoder: " in tester_prompt and "def product" in tester_prompt  # get_memories() as context
    reviewer_prompt = tutorial_server.bodies[2]["messages"][-1]["content"]
    assert "def test_product" in reviewer_prompt and "def product" in reviewer_prompt  # the history


def test_declarative_debate_alternates_speakers_by_send_to(tutorial_server, tmp_path):
    done = run_script("debate_declarative.py", tutorial_server, tmp_path)

    assert done.returncode == 0, done.stderr
    assert lines(done.stdout, "MSG") == [
        "Human -> ['Biden']: Topic: climate change. Under 80 words per message.",
        "Biden -> ['Trump']: Biden says: argument 1.",
        "Trump -> ['Biden']: Trump says: argument 2.",
        "Biden -> ['Trump']: Biden says: argument 3.",
        "Trump -> ['Biden']: Trump says: argument 4.",
    ]
    last_prompt = tutorial_server.bodies[-1]["messages"][-1]["content"]
    assert "Biden: Biden says: argument 3." in last_prompt and "Trump: Trump says: argument 2." in last_prompt


def test_plain_class_debate_in_a_software_company_is_charged_to_its_budget(tutorial_server, tmp_path):
    done = run_script("debate_plain.py", tutorial_server, tmp_path)

    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in lines(done.stdout, "MSG")] == [
        "Human -> ['<all>']",
        "Biden -> ['Trump']",
        "Trump -> ['Biden']",
        "Biden -> ['Trump']",
        "Trump -> ['Biden']",
    ]
    (cost,) = lines(done.stdout, "COST")
    assert float(cost) > 0  # actions created inside _act still spend the company's money


def test_agent_creator_shows_the_model_the_framework_example_from_any_folder(tutorial_server, tmp_path):
    done = run_script("agent_creator.py", tutorial_server, tmp_path)

    assert done.returncode == 0, done.stderr
    assert lines(done.stdout, "EXAMPLE") == ["examples/build_customized_agent.py"]
    assert lines(done.stdout, "WROTE") == ["from metagpt.roles import Role"]
    assert (tmp_path / "workspace" / "agent_created_agent.py").read_text().count("class SimpleTester(Role)") == 1
    prompt = prompt_text(tutorial_server.bodies[0])
    for name in ("SimpleWriteCode", "SimpleRunCode", "SimpleCoder", "RunnableCoder"):
        assert f"class {name}(" in prompt
