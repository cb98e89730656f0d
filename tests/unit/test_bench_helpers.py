"""The bench runner's pure helpers: critical path, causal structure, gaps, duplication, the table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("benchlib", Path(__file__).parents[2] / "bench" / "benchlib.py")
benchlib = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("benchlib", benchlib)  # dataclasses look their module up there
_SPEC.loader.exec_module(benchlib)
Call, Row = benchlib.Call, benchlib.Row


def call(index: int, stage: str, start: float, end: float, file: str = "") -> Call:
    return Call(index=index, stage=stage, file=file, start=start, end=end)


def test_longest_chain_follows_dependencies_not_the_timeline():
    # b and c both need a; c is longer, d needs b and c: the chain is a -> c -> d.
    calls = [call(0, "PRD", 0, 1), call(1, "write", 1, 2), call(2, "write", 1, 4), call(3, "test", 4, 4.5)]
    seconds, chain = benchlib.longest_chain(calls, {1: [0], 2: [0], 3: [1, 2]})
    assert seconds == pytest.approx(1 + 3 + 0.5)
    assert [c.index for c in chain] == [0, 2, 3]


def test_serialised_independent_calls_do_not_lengthen_the_critical_path():
    # Two independent writes run one after the other: wall 2 s, critical path 1 s.
    calls = [call(0, "write", 0, 1, "a.py"), call(1, "write", 1, 2, "b.py")]
    depends = benchlib.sop_dependencies(calls, {"a.py": [], "b.py": []})
    assert depends == {0: [], 1: []}
    assert benchlib.longest_chain(calls, depends)[0] == pytest.approx(1)


def test_sop_dependencies_chain_documents_files_reviews_and_tests():
    calls = [
        call(0, "PRD", 0, 1),
        call(1, "design", 1, 2),
        call(2, "tasks", 2, 3),
        call(3, "write", 3, 4, "a.py"),
        call(4, "write", 4, 5, "b.py"),
        call(5, "review", 5, 6, "a.py"),
        call(6, "review", 6, 7, "b.py"),
        call(7, "rewrite", 7, 8, "b.py"),
        call(8, "test", 8, 9, "tests/test_a.py"),
    ]
    depends = benchlib.sop_dependencies(calls, {"a.py": [], "b.py": ["a.py"]})
    assert depends[1] == [0] and depends[2] == [0, 1]
    assert depends[3] == [2]
    assert depends[4] == [2, 3]  # the task list and the file it uses
    assert depends[5] == [3]  # its own code
    assert depends[6] == [4, 5]  # its code and the reviewed file it uses
    assert depends[7] == [6]
    assert depends[8] == [0, 1, 2, 3, 4, 5, 6, 7]
    # Reviewing a.py did not need b.py: the run took 9 s, its critical path is 8 calls long.
    seconds, chain = benchlib.longest_chain(calls, depends)
    assert seconds == pytest.approx(8) and len(chain) == 8


def test_busy_time_and_idle_gaps():
    calls = [call(0, "PRD", 1, 2), call(1, "write", 3, 5, "a.py"), call(2, "write", 4, 6, "b.py")]
    assert benchlib.busy_seconds(calls) == pytest.approx(4)
    gaps = benchlib.idle_gaps(calls, 0, 7)
    assert [(start, pytest.approx(seconds), what) for start, seconds, what in gaps] == [
        (0, 1, "start -> PRD"),
        (2, 1, "PRD -> write a.py"),
        (6, 1, "write b.py -> end"),
    ]


def test_repeated_text_finds_a_document_pasted_twice():
    document = "\n".join(f"- requirement number {n} of the product, stated at length" for n in range(3))
    chars, example = benchlib.repeated_text(f"# Context\n{document}\n\n# Also\n{document}\n# Task\nWrite it.")
    assert chars == sum(len(line) for line in document.splitlines())
    assert example in document
    assert benchlib.repeated_text(f"# Context\n{document}\n# Task\nshort\nshort") == (0, "")


def test_render_table_marks_targets_and_escapes_pipes():
    table = benchlib.render_table(
        [Row("a | b", "< 1 s", "0.5 s", True, "1.00"), Row("c", "", "2", None), Row("d", "none", "x", False)]
    )
    assert table.splitlines() == [
        "| figure | target | measured | met? | load (1 min) |",
        "| --- | --- | --- | --- | --- |",
        "| a \\| b | < 1 s | 0.5 s | yes | 1.00 |",
        "| c | - | 2 | - | - |",
        "| d | none | x | **no** | - |",
    ]


def test_parse_role_usage_reads_the_cli_summary():
    summary = (
        "Spent $0.0012 of $3.0000 (100 prompt + 20 completion tokens, 3 calls)\n"
        "  Engineer: $0.0010, 80+15 tokens, 2 calls\n"
        "  Product Manager: $0.0002, 20+5 tokens, 1 calls\n"
    )
    assert benchlib.parse_role_usage(summary) == {"Engineer": (80, 15, 2), "Product Manager": (20, 5, 1)}


def test_cpu_model_reads_proc_cpuinfo():
    text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
    assert benchlib.cpu_model(text) == "AMD EPYC 7B13"
