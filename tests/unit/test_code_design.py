"""What the Engineer's prompts show of the design, loops cut from code, stand-ins written from the design."""

from __future__ import annotations

import ast

from metagpt.actions import SystemDesign
from metagpt.actions.code_design import SKELETON_NOTE, design_for_code, parse_calls, parse_classes, skeleton
from metagpt.actions.write_code import cut_loops
from metagpt.prompts import render_prompt

EXAMPLE = SystemDesign(**{name: field.examples[0] for name, field in SystemDesign.model_fields.items()})


def test_the_code_prompt_carries_the_classes_as_a_plain_list_without_mermaid():
    design = design_for_code(EXAMPLE)
    prompt = render_prompt("write_code", design=design, tasks="", written="(none)", filename="game.py")
    assert "classDiagram" not in prompt and "sequenceDiagram" not in prompt and "```mermaid" not in prompt
    assert "- Game\n  - attribute score: int\n  - method start() -> None" in prompt
    assert "- Snake\n  - attribute body: list\n  - method move() -> None\n- Game uses Snake" in prompt
    assert "- Main calls Game: start()" in prompt  # the alias of `participant M as Main`
    assert "## File list\n\n- main.py\n- game.py\n- snake.py" in prompt


def test_class_diagrams_in_other_spellings_are_read_too():
    classes, relations = parse_classes(
        "classDiagram\n  class Todo\n  Todo : +str title\n  Todo : +done() bool\n"
        "  class Store {\n    +items: list\n    +add(Todo todo, int at) None\n  }\n  Store <|-- FileStore\n"
    )
    assert [(c.name, c.attributes, c.methods) for c in classes] == [
        ("Todo", [("title", "str")], [("done", "", "bool")]),
        ("Store", [("items", "list")], [("add", "Todo todo, int at", "None")]),
    ]
    assert relations == ["FileStore inherits from Store"]
    assert parse_calls("sequenceDiagram\n participant U as User\n U->>S: add(x)\n S-->>U: ok") == [
        "User calls S: add(x)",
        "S answers User: ok",
    ]


def test_a_stand_in_parses_names_its_origin_and_holds_the_classes_named_after_the_file():
    for filename in EXAMPLE.file_list:
        code = skeleton(filename, EXAMPLE)
        ast.parse(code)
        assert SKELETON_NOTE in code.splitlines()[0]
    game = skeleton("game.py", EXAMPLE)
    assert "class Game:" in game and "class Snake" not in game
    assert 'raise NotImplementedError("Game.start: written from the design, not implemented")' in game
    main = skeleton("main.py", EXAMPLE)
    assert "class " not in main and "raise SystemExit(" in main  # never exits 0 as if it worked


def test_loops_of_any_block_length_are_cut_after_the_first_copy():
    block = [f"    line_{n} = {n}" for n in range(12)]
    code = "\n".join(["def f():", *block * 9, "    return 1"])
    assert cut_loops(code) == "\n".join(["def f():", *block])
    two = "\n".join(["x = 1", "y = 2"] * 3)
    assert cut_loops(two) == "x = 1\ny = 2"
    once_twice = "\n".join(["a = 1", "b = 2", "a = 1", "b = 2", "c = 3"])
    assert cut_loops(once_twice) == once_twice  # two copies are not a loop


async def test_code_that_never_parses_is_retried_without_the_broken_answer_then_written_from_the_design():
    from metagpt.actions import WriteCode
    from metagpt.config import Config
    from metagpt.context import Context
    from metagpt.llm import LLM
    from metagpt.provider.fake import FakeProvider

    provider = FakeProvider(["```python\nclassGame:\n```", "```python\nclassGame :\n```"])
    action = WriteCode()
    action.set_llm(LLM(Context(Config(api_type="fake"), provider=provider), role="Engineer"))
    code = await action.run("game.py", design_for_code(EXAMPLE), "", {}, fallback=lambda: skeleton("game.py", EXAMPLE))
    assert code == skeleton("game.py", EXAMPLE)
    first, retry = (call.messages for call in provider.calls)
    assert retry[:-1] == first[:-1] and len(retry) == len(first)  # a fresh request, no broken answer in it
    assert retry[-1]["content"].startswith(first[-1]["content"])
    assert "did not parse: invalid syntax (line 1): classGame:" in retry[-1]["content"]
    provider.assert_complete()


def test_a_file_that_loops_with_variations_is_cut_at_the_second_definition():
    from metagpt.actions.write_code import extract_code

    answer = "```python\n# game.py\nclass Game:\n    x = 1\n\n# Game.py\nclass Game:\n    x = 2\n\ndef main():\n"
    assert extract_code(answer) == "# game.py\nclass Game:\n    x = 1\n"


def test_the_run_summary_and_report_name_files_written_from_the_design(tmp_path):
    from metagpt.actions.code_design import from_design
    from metagpt.report import render_report

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "game.py").write_text(skeleton("game.py", EXAMPLE))
    (tmp_path / "pkg" / "main.py").write_text("print('hi')\n")
    (tmp_path / "pkg" / "a.py").mkdir()  # a folder the task list named like a file
    (tmp_path / "pkg" / "link.py").symlink_to(tmp_path / "pkg" / "game.py")
    assert from_design(tmp_path) == ["pkg/game.py"]
    page = render_report(tmp_path)
    assert "pkg/game.py <strong>(written from the design, not by the model)</strong>" in page
    assert "pkg/main.py <strong>" not in page
