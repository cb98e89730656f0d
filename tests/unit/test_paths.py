"""Names from a model made safe: identifiers and relative paths that cannot leave their folder."""

from __future__ import annotations

import pytest

from metagpt.utils.paths import merge_file_lists, safe_relative_path, to_identifier


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Snake Game!", "snake_game"),
        ("snake_game", "snake_game"),
        ("  CLI   Snake-Game v2 ", "cli_snake_game_v2"),
        ("2048 game", "p_2048_game"),
        ("!!!", ""),
        ("", ""),
    ],
)
def test_to_identifier(text, expected):
    name = to_identifier(text)

    assert name == expected
    assert name == "" or name.isidentifier()


def test_to_identifier_drops_filler_words_only_when_asked():
    assert to_identifier("Write a CLI snake game", drop_filler=True) == "cli_snake_game"
    assert to_identifier("Write a CLI snake game") == "write_a_cli_snake_game"
    assert to_identifier("make the", drop_filler=True) == "make_the"  # nothing left: keep every word


def test_to_identifier_is_capped_without_trailing_underscore():
    assert to_identifier("alpha beta gamma", max_length=11) == "alpha_beta"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("main.py", "main.py"),
        ("./a\\b.py", "a/b.py"),
        ("././game/board.py", "game/board.py"),
        ("`main.py`", "main.py"),
        ('"game/snake.py"', "game/snake.py"),
        ("  main.py  ", "main.py"),
        ("game/./snake.py", "game/snake.py"),
    ],
)
def test_safe_relative_path_normalises(name, expected):
    assert safe_relative_path(name) == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/passwd", "must be relative"),
        ("../x", "must not contain '..'"),
        ("a/../../b", "must not contain '..'"),
        ("a/..", "must not contain '..'"),
        ("..\\x.py", "must not contain '..'"),
        ("C:\\x", "must be relative"),
        ("c:/windows/x.py", "must be relative"),
        ("\\\\server\\share\\x.py", "must be relative"),
        ("", "must be relative"),
        ("   ", "must be relative"),
        ("./", "must be relative"),
        ("a//b.py", "empty parts"),
        ("game/", "empty parts"),
        (".git/config", "git's own files"),
        (".GIT/hooks/pre-commit", "git's own files"),
        (".gitattributes", "git's own files"),
        ("pkg/.gitmodules", "git's own files"),
        ("vendor/lib/.git/config", "git's own files"),
        (".git./config", "git's own files"),
    ],
)
def test_safe_relative_path_rejects_escapes(name, reason):
    with pytest.raises(ValueError, match=reason) as info:
        safe_relative_path(name)

    assert repr(name) in str(info.value)  # the message names the offending path for the model


def test_merged_file_lists_resolve_clashes_between_lists_in_list_order():
    merged = merge_file_lists(["a.py/b.py", "c/d.py", "main.py"], ["a.py", "c", "MAIN.py", "e.py"])
    assert merged == ["a.py/b.py", "c/d.py", "main.py", "a_2.py", "c_2", "e.py"]
