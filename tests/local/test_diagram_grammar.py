"""llama.cpp accepts the diagram grammars spliced into the JSON grammar of each document."""

from __future__ import annotations

import json

import pytest

from metagpt.actions import PRD, SystemDesign
from metagpt.provider import llama_grammar
from metagpt.provider.llama_grammar import with_diagram_grammars

pytest.importorskip("llama_cpp", reason="llama-cpp-python (the local extra) is not installed")


def test_grammar_splices_each_diagram_into_its_json_string():
    schema, fields, tokens = with_diagram_grammars(SystemDesign.model_json_schema(), 1024)
    text = llama_grammar._grammar_text(
        json.dumps(llama_grammar.structured_schema(schema, tokens)), tuple(sorted(set(fields.values())))
    )
    assert 'program-call-flow ::= "\\"" sequenceDiagram "\\"" space' in text
    assert 'data-structures-and-interfaces ::= "\\"" classDiagram "\\"" space' in text
    assert "@@" not in text
    assert llama_grammar.json_grammar(SystemDesign.model_json_schema(), 1024) is not None  # llama.cpp parses it
    assert llama_grammar.json_grammar(PRD.model_json_schema(), 1024) is not None
