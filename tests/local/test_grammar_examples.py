"""Every grammar the embedded model decodes under admits the example its prompt shows.

A grammar that forbids part of its example pushes a small model off the tokens it prefers (the
example's layout) and into punctuation inside strings or mangled names, so each document's
example, pretty-printed exactly as the prompt shows it, must decode under its grammar.
"""

from __future__ import annotations

import json

import pytest

from metagpt.actions import PRD, SystemDesign, Tasks
from metagpt.provider.llama_grammar import diagram_grammar, json_grammar_text
from metagpt.utils.structured import format_instructions

pytest.importorskip("llama_cpp", reason="llama-cpp-python (the local extra) is not installed")

from metagpt.provider.grammar_check import GrammarChecker
from metagpt.provider.local_llama import default_model_path


@pytest.fixture(scope="module")
def checker():
    try:
        path = default_model_path()
    except Exception as exc:  # the model package is missing: nothing to tokenize with
        pytest.skip(str(exc))
    checker = GrammarChecker(path)
    yield checker
    checker.close()


def prompt_example(model) -> str:
    """The example JSON exactly as `format_instructions` puts it in the prompt."""
    text = format_instructions(model)
    return text.split("Example of the format (write your own content):\n", 1)[1]


@pytest.mark.parametrize("model", [PRD, SystemDesign, Tasks])
def test_each_document_grammar_admits_its_pretty_printed_example(checker, model):
    grammar = json_grammar_text(model.model_json_schema(), 1024)
    example = prompt_example(model)
    assert "\n  " in example  # the prompt shows indented JSON...
    assert checker.accepts(grammar, example)  # ...and the grammar admits it
    compact = json.dumps(json.loads(example), ensure_ascii=False)
    assert checker.accepts(grammar, compact)  # the compact form too


def test_document_grammar_still_refuses_what_is_not_the_schema(checker):
    grammar = json_grammar_text(PRD.model_json_schema(), 1024)
    data = json.loads(prompt_example(PRD))
    assert not checker.accepts(grammar, json.dumps({"product_goals": data["product_goals"]}))
    data["requirement_pool"][0]["priority"] = "P9"
    assert not checker.accepts(grammar, json.dumps(data))
    assert not checker.accepts(grammar, json.dumps(data)[:-1])  # unfinished


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (PRD, "competitive_quadrant_chart"),
        (SystemDesign, "data_structures_and_interfaces"),
        (SystemDesign, "program_call_flow"),
    ],
)
def test_each_diagram_grammar_admits_its_example(checker, model, field):
    example = model.model_fields[field].examples[0]
    kind = example.split()[0]
    body = json.dumps(example)[1:-1]  # the diagram as the inside of a JSON string
    assert checker.accepts(f"root ::= {kind}\n{diagram_grammar(kind)}", body)


@pytest.mark.parametrize(
    ("text", "admitted"),
    [
        (
            "sequenceDiagram\n    participant M as Main\n    participant G as Game\n    M->>G: start()\n"
            "    G-->>M: done",
            True,
        ),
        (
            "sequenceDiagram\n    participant Main\n    participant Game\n    Main->>Game: start()\n"
            "    Game->>Game: loop",
            True,
        ),
        ("sequenceDiagram\n    participant M as\n    M->>M: x\n    M->>M: y", False),
        ("sequenceDiagram\n    participant 1A\n    participant B\n    B->>B: x\n    B->>B: y", False),
    ],
)
def test_sequence_grammar_takes_aliases_and_one_letter_ids(checker, text, admitted):
    grammar = f"root ::= sequenceDiagram\n{diagram_grammar('sequenceDiagram')}"
    assert checker.accepts(grammar, json.dumps(text)[1:-1]) is admitted


def test_goals_and_stories_admit_no_json_marks_while_other_fields_do(checker):
    grammar = json_grammar_text(PRD.model_json_schema(), 1024)
    data = json.loads(prompt_example(PRD))
    data["requirement_analysis"] = "Scores stay in [0, 1]; {fast} matters"
    assert checker.accepts(grammar, json.dumps(data))
    for field in ("product_goals", "user_stories"):
        for mark in "[]{}":
            bad = {**data, field: [f"Steer the snake with the arrow {mark}x"]}
            assert not checker.accepts(grammar, json.dumps(bad)), (field, mark)
