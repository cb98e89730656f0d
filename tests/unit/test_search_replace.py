"""The search/replace edit engine: parsing, exact and whitespace-tolerant matching, ambiguity, all or nothing."""

from __future__ import annotations

import pytest

from metagpt.incremental.edits import EditBlock, EditFormatError, apply_blocks, parse_blocks, replace_once

CALC = '''"""A tiny calculator."""


def add(a: float, b: float) -> float:
    """The sum of a and b."""
    return a + b


class Calculator:
    def total(self, values):
        result = 0
        for value in values:
            result = add(result, value)
        return result
'''


def block(search: str, replace: str, path: str = "calc.py", index: int = 1) -> EditBlock:
    return EditBlock(path, search, replace, index)


def test_parse_reads_the_path_line_before_each_block_and_ignores_fences():
    answer = (
        "Here is the change.\n\n```python\ncalculator/calc.py\n<<<<<<< SEARCH\ndef add(a, b):\n=======\n"
        "def add(a, b):\n    pass\n>>>>>>> REPLACE\n```\n\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n"
        ">>>>>>> REPLACE\n```\n\n`calculator/main.py`\n```python\n<<<<<<< SEARCH\n=======\nprint(1)\n"
        ">>>>>>> REPLACE\n```\n"
    )

    blocks = parse_blocks(answer, "default.py")

    assert blocks == [
        EditBlock("calculator/calc.py", "def add(a, b):\n", "def add(a, b):\n    pass\n", 1),
        EditBlock("calculator/calc.py", "x = 1\n", "x = 2\n", 2),  # no name: the previous block's file
        EditBlock("calculator/main.py", "", "print(1)\n", 3),
    ]


def test_parse_without_a_name_uses_the_default_path():
    assert parse_blocks("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n", "x.py") == [EditBlock("x.py", "a\n", "b\n")]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("```python\nprint('whole file')\n```\n", "holds no SEARCH/REPLACE block"),
        ("<<<<<<< SEARCH\na\n=======\nb\n", "block 1 for `x.py` is not terminated"),
    ],
)
def test_parse_refuses_answers_without_well_formed_blocks(answer, message):
    with pytest.raises(EditFormatError, match=message):
        parse_blocks(answer, "x.py")


def test_exact_match_replaces_the_one_place():
    new = replace_once(CALC, "    return a + b\n", "    return b + a\n")

    assert new == CALC.replace("return a + b", "return b + a")


def test_trailing_whitespace_differences_still_match():
    search = "def add(a: float, b: float) -> float:   \n    return a + b\t\n".replace(
        "    return", '    """The sum of a and b."""\n    return'
    )

    new = replace_once(CALC, search, "def add(a, b):\n    return a + b\n")

    assert "def add(a, b):\n    return a + b\n\n\nclass Calculator" in new


def test_indentation_differences_match_and_the_replacement_is_reindented():
    search = "for value in values:\n    result = add(result, value)\n"  # quoted without the method's indent
    replace = "for value in values:\n    result = add(result, value)\n    print(result)\n"

    new = replace_once(CALC, search, replace)

    assert (
        "        for value in values:\n            result = add(result, value)\n            print(result)\n"
        "        return result\n"
    ) in new
    assert new.count("\n") == CALC.count("\n") + 1


def test_blank_lines_around_the_search_are_ignored():
    new = replace_once(CALC, "\n\n    result = 0\n\n", "    result = 0.0\n")

    assert "        result = 0.0\n        for value" in new


def test_a_search_that_matches_several_places_is_ambiguous_not_guessed():
    text = "def a():\n    return 1\n\n\ndef b():\n    return 1\n"

    with pytest.raises(ValueError, match="matches 2 places; add lines around it"):
        replace_once(text, "    return 1\n", "    return 2\n")
    with pytest.raises(ValueError, match="matches 2 places"):  # also at the whitespace-tolerant level
        replace_once(text, "return 1  \n", "return 2\n")
    assert replace_once(text, "def b():\n    return 1\n", "def b():\n    return 2\n").endswith("return 2\n")


def test_a_search_that_matches_nothing_reports_the_real_text_nearest_to_it():
    with pytest.raises(ValueError) as raised:
        replace_once(CALC, "def add(x, y):\n    return x + y\n", "")

    assert str(raised.value) == "matches nothing in the file"
    nearest = raised.value.nearest
    assert "def add(a: float, b: float) -> float:\n" in nearest
    assert nearest in CALC  # real lines of the file, with their context, no line numbers


def test_apply_blocks_is_all_or_nothing_and_reports_every_failure():
    files = {"calc.py": CALC, "main.py": "from calc import add\n\nprint(add(1, 2))\n"}
    blocks = [
        block("    return a + b\n", "    return a + b  # sum\n", index=1),
        block("print(add(1, 2))\n", "print(add(2, 3))\n", "main.py", 2),
        block("def add(x, y):\n", "", index=3),
        block("x = 1\n", "x = 2\n", "missing.py", 4),
    ]

    result = apply_blocks(files, blocks)

    assert not result.ok and result.files == {}
    assert [(f.block.index, f.reason) for f in result.failures] == [
        (3, "matches nothing in the file"),
        (4, "names a file that does not exist"),
    ]
    assert result.failures[0].line() == "calc.py: block 3 ('def add(x, y):') matches nothing in the file"
    described = result.failures[0].describe()
    assert "Block 3 for `calc.py` did not apply: matches nothing in the file." in described
    assert 'nearest to it is:\n```\n"""A tiny calculator."""\n\n\ndef add(a: float, b: float) -> float:\n' in described
    assert files["calc.py"] == CALC  # the input is never changed


def test_apply_blocks_applies_in_order_and_creates_new_files_from_an_empty_search():
    blocks = [
        block("    return a + b\n", "    return a + b\n\n\ndef subtract(a, b):\n    return a - b\n", index=1),
        block(
            "def subtract(a, b):\n    return a - b\n", "def subtract(a: float, b: float) -> float:\n    return a - b\n"
        ),
        block("", "from calc import subtract\n", "ops.py", 3),
    ]

    result = apply_blocks({"calc.py": CALC}, blocks)

    assert result.ok
    assert "def subtract(a: float, b: float) -> float:\n    return a - b\n" in result.files["calc.py"]
    assert result.files["ops.py"] == "from calc import subtract\n"


def test_an_empty_search_on_an_existing_file_is_refused():
    result = apply_blocks({"calc.py": CALC}, [block("", "x = 1\n")])

    assert [f.reason for f in result.failures] == ["has an empty SEARCH text; quote the lines to replace"]
