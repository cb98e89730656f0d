"""Names a model chooses cannot reach the project's own files, the terminal, or outside the folder."""

from __future__ import annotations

import os

import pytest

from metagpt.actions import PRD
from metagpt.utils.paths import MAX_PART_BYTES, clean_text, safe_file_list, safe_relative_path
from tests.robustness.conftest import IDEA, company_handler, error_lines, files_under, invoke
from tests.robustness.hostile import design_with

RESERVED = {
    "logs": ("metagpt.log", "logs/metagpt.log"),
    "docs": ("prd.md", "docs/prd.md"),
    "resources": ("seq_flow.mmd", "resources/seq_flow.mmd"),
}


@pytest.mark.parametrize("package", RESERVED)
def test_a_package_named_like_a_reserved_folder_is_renamed_and_said_so(server, tmp_path, package):
    name, own_file = RESERVED[package]
    server.handler = company_handler(design_with(package, [name]), [name])

    result = invoke(server, tmp_path / "ws", IDEA, "--project-name", "demo")

    assert result.exit_code == 0, result.output
    root = tmp_path / "ws" / "demo"
    assert f"The package name {package!r} is reserved for the project's own files; using '{package}_pkg'" in (
        result.output
    )
    assert f"print({name!r})" in (root / f"{package}_pkg" / name).read_text()
    own = (root / own_file).read_text()
    assert not own.startswith('"""')  # not replaced by the code answer
    assert {
        "logs": "Product Requirement Document",  # the run log, prompts included
        "docs": "# Product Requirement Document",
        "resources": "sequenceDiagram",
    }[package] in own
    if package == "docs":
        PRD.model_validate_json((root / "docs/prd.json").read_text())


HOSTILE_FILES = [
    "main.py",
    "nul\x00byte.py",
    "x" * 300 + ".py",
    "\x1b]0;TITLE\x07\x1b[2Jevil.py",
    "a.py",
    "a.py/b.py",
    "pkg/c.py",
    "pkg",
    ".",
    "-rf.py",
]


def test_hostile_file_names_are_normalised_before_disk_and_terminal(server, tmp_path):
    server.handler = company_handler(design_with("game", HOSTILE_FILES), HOSTILE_FILES)

    result = invoke(server, tmp_path / "ws", IDEA, "--project-name", "demo")

    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output and "\x00" not in result.output
    code = files_under(tmp_path / "ws" / "demo" / "game")
    long_name = "x" * (MAX_PART_BYTES - 3) + ".py"
    assert code == sorted(
        ["main.py", "nulbyte.py", long_name, "evil.py", "a.py", "a.py_2/b.py", "pkg/c.py", "pkg_2", "_rf.py"]
    )
    assert "'a.py/b.py' clashes with a planned file; using 'a.py_2'" in result.output
    assert "Dropped '.' from a file list: it names no file." in result.output
    assert not [p for p in (tmp_path / "ws").rglob("*.tmp")]


def test_clashes_between_the_two_file_lists_are_resolved_on_disk(server, tmp_path):
    """The design plans `a.py`, the task list `a.py/b.py`: each list is fine, together they clash."""
    server.handler = company_handler(design_with("game", ["a.py", "c"]), ["a.py/b.py", "c/d.py"])

    result = invoke(server, tmp_path / "ws", IDEA, "--project-name", "demo")

    assert result.exit_code == 0, result.output
    assert files_under(tmp_path / "ws" / "demo" / "game") == ["a.py/b.py", "a_2.py", "c/d.py", "c_2"]
    assert not [p for p in (tmp_path / "ws").rglob("*.tmp")]


def test_a_symlink_planted_mid_run_stops_the_run_with_exit_2_and_nothing_outside(server, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "target.py"
    target.write_text("untouched\n")
    handler = company_handler(design_with("game", ["main.py", "board.py"]), ["main.py", "board.py"])

    def plant_then_answer(body):  # board.py comes first: main.py, the entry point, depends on it
        if "write the complete code of `board.py`" in str(body.get("messages")):
            (tmp_path / "ws" / "demo" / "game").mkdir(exist_ok=True)
            os.symlink(target, tmp_path / "ws" / "demo" / "game" / "main.py")
        return handler(body)

    server.handler = plant_then_answer

    result = invoke(server, tmp_path / "ws", IDEA, "--project-name", "demo")

    assert result.exit_code == 2, result.output
    [line] = error_lines(result.output)
    assert line.startswith("Error: Refusing to write 'game/main.py'")
    assert "points outside the project folder" in line
    assert target.read_text() == "untouched\n"
    assert files_under(outside) == ["target.py"]
    assert (tmp_path / "ws" / "demo" / "game" / "board.py").is_file()  # what was written stays
    assert result.output.rstrip().endswith(f"Files written so far are in {(tmp_path / 'ws' / 'demo').resolve()}")
    assert "Traceback" not in result.output


def test_a_dangling_symlink_as_project_name_gets_a_free_name(server, tmp_path):
    (tmp_path / "ws").mkdir()
    os.symlink(tmp_path / "nowhere", tmp_path / "ws" / "demo")

    result = invoke(server, tmp_path / "ws", IDEA, "--project-name", "demo", "--no-implement")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "ws" / "demo_2" / "docs" / "prd.md").is_file()
    assert not (tmp_path / "nowhere").exists()


def test_an_unusable_workspace_is_one_line_and_exit_2(server, tmp_path):
    (tmp_path / "ws").write_text("a file, not a folder")

    result = invoke(server, tmp_path / "ws", IDEA)

    assert result.exit_code == 2, result.output
    [line] = error_lines(result.output)
    assert line.startswith(f"Error: Cannot create the project folder {tmp_path / 'ws' / 'command_line_snake_game'}")
    assert "WORKSPACE_PATH" in line


def test_the_second_run_of_an_idea_gets_the_next_free_name(server, tmp_path):
    server.handler = company_handler(design_with("snake_game", ["main.py"]), ["main.py"])

    for _ in range(3):
        result = invoke(server, tmp_path / "ws", "snake game", "--no-implement")
        assert result.exit_code == 0, result.output

    assert sorted(p.name for p in (tmp_path / "ws").iterdir()) == ["snake_game", "snake_game_2", "snake_game_3"]


def test_undecodable_bytes_in_the_idea_are_one_line_and_exit_2(server, tmp_path):
    from tests.robustness.conftest import spawn

    process = spawn(server, tmp_path, b"a snake game \xff\xfe")
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 2, stderr
    assert stderr.decode().strip().splitlines()[-1] == (
        "Error: The idea holds bytes that are not UTF-8 text; pass it as UTF-8 (check the terminal's locale)."
    )
    assert server.requests == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("\x1b[31mred.py", "red.py"),
        ("\x1b]0;TITLE\x07x.py", "x.py"),
        ("\x1b]8;;http://evil\x1b\\link.py", "link.py"),
        ("a\u202eyp.exe", "ayp.exe"),
        ("tab\tname.py", "tab_name.py"),
        ("my file (1).py", "my_file_1_.py"),
        ("é/ü.py", "é/ü.py"),
        ("a/./b.py", "a/b.py"),
        ("\udcff.py", ".py"),
    ],
)
def test_normaliser_removes_escapes_and_bounds_characters(name, expected):
    assert safe_relative_path(name) == expected
    assert safe_relative_path(expected) == expected  # normalising twice changes nothing


@pytest.mark.parametrize("name", [".", "./.", "..", "a/...", "\x00", "\x1b[2J", "/".join("d" * 10) + "/x.py"])
def test_normaliser_rejects_what_names_no_file(name):
    with pytest.raises(ValueError, match="file path"):
        safe_relative_path(name)


def test_long_multibyte_names_are_cut_on_a_character_boundary():
    name = safe_relative_path("é" * 200 + ".py")

    assert name.endswith(".py") and len(name.encode()) <= MAX_PART_BYTES
    assert name == "é" * 48 + ".py"


def test_file_list_drops_case_duplicates_and_renames_folder_clashes():
    names = ["Main.py", "main.py", "a/b.py", "a", "A/c.py", ".", "./"]

    assert safe_file_list(names) == ["Main.py", "a/b.py", "a_2", "A/c.py"]


def test_clean_text_keeps_lines_and_drops_controls():
    assert clean_text("one\n\x1b[1mtwo\x1b[0m\r\x07\tthree") == "one\ntwo\tthree"
