"""Diagram grammars for the embedded model: which fields get one, and that llama.cpp accepts them."""

from __future__ import annotations

import json

import pytest

from metagpt.actions import PRD, SystemDesign, Tasks
from metagpt.provider import llama_grammar
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


def test_grammar_splices_each_diagram_into_its_json_string():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (the local extra) is not installed")
    schema, fields, tokens = with_diagram_grammars(SystemDesign.model_json_schema(), 1024)
    text = llama_grammar._grammar_text(
        json.dumps(llama_grammar.structured_schema(schema, tokens)), tuple(sorted(set(fields.values())))
    )
    assert 'program-call-flow ::= "\\"" sequenceDiagram "\\"" space' in text
    assert 'data-structures-and-interfaces ::= "\\"" classDiagram "\\"" space' in text
    assert "@@" not in text
    assert llama_grammar.json_grammar(SystemDesign.model_json_schema(), 1024) is not None  # llama.cpp parses it
    assert llama_grammar.json_grammar(PRD.model_json_schema(), 1024) is not None
