"""Diagram grammars for the embedded model: which fields get one, and that llama.cpp accepts them."""

from __future__ import annotations

from metagpt.actions import PRD, SystemDesign, Tasks
from metagpt.provider.llama_grammar import DIAGRAM_TOKENS, diagram_fields, with_diagram_grammars


def test_the_three_diagram_fields_get_the_grammar_of_their_type():
    assert diagram_fields(PRD.model_json_schema()) == {"competitive_quadrant_chart": "quadrantChart"}
    assert diagram_fields(SystemDesign.model_json_schema()) == {
        "data_structures_and_interfaces": "classDiagram",
        "program_call_flow": "sequenceDiagram",
    }
    assert diagram_fields(Tasks.model_json_schema()) == {}


def test_diagram_tokens_are_taken_from_the_strings_budget():
    schema, fields, tokens = with_diagram_grammars(SystemDesign.model_json_schema(), 1024)
    assert set(fields) == {"data_structures_and_interfaces", "program_call_flow"}
    assert tokens == 1024 - DIAGRAM_TOKENS["classDiagram"] - DIAGRAM_TOKENS["sequenceDiagram"]
    assert schema["properties"]["program_call_flow"] == {"const": "@@sequenceDiagram@@"}
    assert SystemDesign.model_json_schema()["properties"]["program_call_flow"]["type"] == "string"  # not mutated
    assert with_diagram_grammars(SystemDesign.model_json_schema(), 600)[1] == {}  # too small: plain strings
