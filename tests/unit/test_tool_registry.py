"""Tools: schemas from signatures and docstrings, BM25 recommendation, the bridge's answers."""

from __future__ import annotations

import json

import metagpt.tools.libs  # noqa: F401
from metagpt.tools.bridge import ToolBridge
from metagpt.tools.libs.http_json import host_allowed
from metagpt.tools.registry import TOOL_REGISTRY, ToolRegistry, _bm25, bm25_scores, make_tool, register_tool


def test_schema_comes_from_signature_and_docstring():
    registry = ToolRegistry()

    @register_tool(tags=["math"], registry=registry)
    def scale(values: list[float], factor: float = 2.0) -> list[float]:
        """Multiply every value by a factor.

        Args:
            values: the numbers.
            factor: what to multiply by;
                two by default.
        """
        return [v * factor for v in values]

    tool = registry.get("scale")
    assert tool.schema() == {
        "name": "scale",
        "signature": "(values: list[float], factor: float = 2.0) -> list[float]",
        "description": "Multiply every value by a factor.",
        "tags": ["math"],
        "parameters": {"values": "the numbers.", "factor": "what to multiply by; two by default."},
    }
    assert scale([1.0], 3) == [3.0]  # the decorator returns the function unchanged


def test_a_tool_without_a_docstring_is_refused():
    def mystery(x):
        return x

    try:
        make_tool(mystery)
    except ValueError as exc:
        assert "docstring" in str(exc)
    else:
        raise AssertionError("no error")


def test_bm25_recall_picks_the_right_tool_first():
    cases = {
        "Get tomorrow's forecast from the weather REST API at http://127.0.0.1:8000/forecast": "call_json_api",
        "Which product in our catalogue suits oily skin? Look it up in the documents": "search_knowledge_base",
        "Load the rows of sales.csv": "read_csv_rows",
        "Open the Excel workbook budget.xlsx and read its first sheet": "read_excel_rows",
        "Search the internet for recent news about the Python language": "web_search",
        "Give summary statistics (mean, min, max) of every column of data.csv": "describe_csv",
    }
    for instruction, expected in cases.items():
        ranked = TOOL_REGISTRY.recommend(instruction, k=3)
        assert ranked and ranked[0].name == expected, (instruction, [t.name for t in ranked])


def test_no_shared_word_no_recommendation():
    assert TOOL_REGISTRY.recommend("zzz qqq", k=3) == []


def test_rank_bm25_and_the_inline_formula_order_alike():
    corpus = [["weather", "api", "http"], ["csv", "row", "file"], ["excel", "sheet", "row"], ["web", "search"]]
    query = ["csv", "row"]
    ours, theirs = _bm25(corpus, query), bm25_scores(corpus, query)
    assert max(range(4), key=ours.__getitem__) == max(range(4), key=theirs.__getitem__) == 1


def test_allow_list_matches_host_or_host_and_port():
    assert host_allowed("http://api.example.test/x", ["api.example.test"])
    assert host_allowed("http://127.0.0.1:8123/x", ["127.0.0.1:8123"])
    assert not host_allowed("http://127.0.0.1:9999/x", ["127.0.0.1:8123"])
    assert not host_allowed("file:///etc/passwd", ["localhost"])
    assert not host_allowed("http://evil.test/?api.example.test", ["api.example.test"])


async def test_bridge_answers_errors_and_unknown_tools(tmp_path):
    registry = ToolRegistry()

    @register_tool(registry=registry)
    def halve(x: float) -> float:
        """Half of x."""
        if x < 0:
            raise ValueError("negative")
        return x / 2

    bridge = ToolBridge(tmp_path / "t.sock", list(registry.tools.values()))
    assert await bridge.call(json.dumps({"tool": "halve", "args": [3]}).encode()) == {"ok": True, "result": 1.5}
    assert await bridge.call(json.dumps({"tool": "halve", "args": [-1]}).encode()) == {
        "ok": False,
        "error": "ValueError: negative",
    }
    missing = await bridge.call(json.dumps({"tool": "rm_rf", "args": []}).encode())
    assert missing["ok"] is False and "no tool named 'rm_rf'" in missing["error"]
    assert bridge.calls == [("halve", True), ("halve", False)]
