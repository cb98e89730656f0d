"""SOP documents: lenient parsing of MetaGPT's shapes, sanitised names and paths, markdown rendering."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from metagpt.actions import PRD, SystemDesign, Tasks
from metagpt.actions.document import render_value, strip_fence
from metagpt.actions.write_prd import RequirementItem

PRD_DATA = {
    "original_requirements": "Write a snake game",
    "product_goals": ["Fun", "Fast"],
    "user_stories": ["As a player I steer"],
    "competitive_analysis": ["nSnake: polished"],
    "competitive_quadrant_chart": "```mermaid\nquadrantChart\n    title Games\n```",
    "requirement_analysis": "Loop, keys, score",
    "requirement_pool": [["Snake moves", "P0"], ["High score table", " p2 "]],
    "ui_design_draft": "A grid",
    "anything_unclear": "",
}

DESIGN_DATA = {
    "implementation_approach": "curses",
    "python_package_name": "Snake Game!",
    "file_list": ["./main.py", "game\\board.py", "main.py"],
    "data_structures_and_interfaces": "classDiagram\n    class Game",
    "program_call_flow": "```mermaid\nsequenceDiagram\n    M->>G: start()\n```",
    "anything_unclear": "",
}

TASKS_DATA = {
    "required_python_third_party_packages": [],
    "required_other_language_third_party_packages": [],
    "full_api_spec": "",
    "logic_analysis": [["game.py", "Game loop"], {"file": "main.py", "description": "Entry point"}],
    "task_list": ["game.py", "./main.py"],
    "shared_knowledge": "20x20 board",
    "anything_unclear": "",
}


def test_prd_accepts_requirement_pool_pairs():
    prd = PRD.model_validate(PRD_DATA)

    assert prd.requirement_pool == [
        RequirementItem(requirement="Snake moves", priority="P0"),
        RequirementItem(requirement="High score table", priority="P2"),
    ]


def test_prd_accepts_requirement_pool_objects_and_rejects_unknown_priorities():
    data = {**PRD_DATA, "requirement_pool": [{"requirement": "Snake moves", "priority": "P1"}]}
    assert PRD.model_validate(data).requirement_pool[0].priority == "P1"

    with pytest.raises(ValidationError, match=r"requirement_pool\.0\.priority"):
        PRD.model_validate({**PRD_DATA, "requirement_pool": [["Snake moves", "P3"]]})


def test_prd_ignores_unknown_keys_but_requires_every_section():
    assert PRD.model_validate({**PRD_DATA, "extra_section": "ignored"}) == PRD.model_validate(PRD_DATA)

    with pytest.raises(ValidationError) as info:
        PRD.model_validate({k: v for k, v in PRD_DATA.items() if k != "user_stories"})
    assert [e["loc"] for e in info.value.errors()] == [("user_stories",)]


def test_system_design_sanitises_package_name_and_file_list():
    design = SystemDesign.model_validate(DESIGN_DATA)

    assert design.python_package_name == "snake_game"
    assert design.file_list == ["main.py", "game/board.py"]


@pytest.mark.parametrize("bad", [["../main.py"], ["game/../../x.py"], ["/etc/passwd"], []])
def test_system_design_rejects_unsafe_or_empty_file_lists(bad):
    with pytest.raises(ValidationError, match="file_list"):
        SystemDesign.model_validate({**DESIGN_DATA, "file_list": bad})


def test_system_design_rejects_a_package_name_without_letters():
    with pytest.raises(ValidationError, match="python_package_name must contain letters"):
        SystemDesign.model_validate({**DESIGN_DATA, "python_package_name": "!!!"})


def test_tasks_accept_logic_pairs_and_sanitise_the_task_list():
    tasks = Tasks.model_validate(TASKS_DATA)

    assert [(f.file, f.description) for f in tasks.logic_analysis] == [
        ("game.py", "Game loop"),
        ("main.py", "Entry point"),
    ]
    assert tasks.task_list == ["game.py", "main.py"]
    with pytest.raises(ValidationError, match="task_list"):
        Tasks.model_validate({**TASKS_DATA, "task_list": ["../../evil.py"]})


@pytest.mark.parametrize(("model", "data"), [(PRD, PRD_DATA), (SystemDesign, DESIGN_DATA), (Tasks, TASKS_DATA)])
def test_markdown_has_one_heading_per_field_in_order(model, data):
    markdown = model.model_validate(data).to_markdown()
    lines = markdown.splitlines()

    assert lines[0] == f"# {model.heading}"
    assert [line[3:] for line in lines if line.startswith("## ")] == [f.title for f in model.model_fields.values()]
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")


def test_prd_markdown_renders_every_section():
    assert PRD.model_validate(PRD_DATA).to_markdown() == (
        "# Product Requirement Document\n\n"
        "## Original Requirements\n\nWrite a snake game\n\n"
        "## Product Goals\n\n- Fun\n- Fast\n\n"
        "## User Stories\n\n- As a player I steer\n\n"
        "## Competitive Analysis\n\n- nSnake: polished\n\n"
        "## Competitive Quadrant Chart\n\n```mermaid\nquadrantChart\n    title Games\n```\n\n"
        "## Requirement Analysis\n\nLoop, keys, score\n\n"
        "## Requirement Pool\n\n- Snake moves: P0\n- High score table: P2\n\n"
        "## UI Design draft\n\nA grid\n\n"
        "## Anything UNCLEAR\n\n(none)\n"
    )


def test_diagram_fields_get_exactly_one_mermaid_fence():
    markdown = SystemDesign.model_validate(DESIGN_DATA).to_markdown()

    assert markdown.count("```mermaid\n") == 2
    assert "```mermaid\nclassDiagram\n    class Game\n```" in markdown
    assert "```mermaid\nsequenceDiagram\n    M->>G: start()\n```" in markdown
    assert "```mermaid\n```mermaid" not in markdown


def test_mermaid_resources_are_unfenced_and_keyed_by_file_stem():
    assert SystemDesign.model_validate(DESIGN_DATA).mermaid_resources() == {
        "data_api_design": "classDiagram\n    class Game",
        "seq_flow": "sequenceDiagram\n    M->>G: start()",
    }
    assert PRD.model_validate(PRD_DATA).mermaid_resources() == {
        "competitive_analysis": "quadrantChart\n    title Games"
    }
    assert Tasks.model_validate(TASKS_DATA).mermaid_resources() == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```mermaid\ngraph TD\n  A-->B\n```", "graph TD\n  A-->B"),
        ("  ```\ngraph TD\n```  ", "graph TD"),
        ("```mermaid\ngraph TD", "graph TD"),
        ("graph TD\n  A-->B", "graph TD\n  A-->B"),
        ("\n  graph TD  \n", "graph TD"),
        ("```mermaid\n```", ""),
        ("", ""),
    ],
)
def test_strip_fence(text, expected):
    assert strip_fence(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([], "(none)"),
        ("", "(none)"),
        (["a", "b"], "- a\n- b"),
        ({"k": "v", "n": "2"}, "- **k**: v\n- **n**: 2"),
        ([["file.py", "what"]], "- file.py: what"),
    ],
)
def test_render_value(value, expected):
    assert render_value(value) == expected
