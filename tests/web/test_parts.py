"""The web UI's pure parts: commit subjects as messages, event cursors, the host check, the
file tree, the sanitizer and the status a journal and a lock give."""

from __future__ import annotations

import pytest

from metagpt.web.events import Cursor
from metagpt.web.history import Commit
from metagpt.web.pages import file_tree
from metagpt.web.projects import RunRow, run_status, valid_name
from metagpt.web.render import markdown, sanitize
from metagpt.web.security import Guard


@pytest.mark.parametrize(
    ("subject", "steps"),
    [
        ("Product Manager: WritePRD", [("Product Manager", "WritePRD")]),
        ("Architect: WriteDesign; Engineer: WriteCode", [("Architect", "WriteDesign"), ("Engineer", "WriteCode")]),
        ("Change 0001 (Add a table): code", []),
        ("Code review", []),
        ("Resumed: files the interrupted run wrote after its last commit", []),
    ],
)  # fmt: skip
def test_a_stage_commit_names_its_messages(subject, steps):
    assert Commit("0" * 40, subject, 0).steps == steps


def test_cursors_round_trip_and_bad_ones_start_over():
    assert Cursor.parse(str(Cursor(3, 7, 2, 1))) == Cursor(3, 7, 2, 1)
    for text in (None, "", "1.2.3", "a.b.c.d", "1.2.3.-4", "1.2.3.4.5"):
        assert Cursor.parse(text) == Cursor()


def test_the_host_must_be_the_bound_one():
    guard = Guard(8000)
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "localhost"):
        assert guard.host_allowed(host), host
    assert not any(guard.host_allowed(h) for h in ("127.0.0.1:8001", "evil.example:8000", "", "127.0.0.1.evil:8000"))
    remote = Guard(8000, "192.0.2.7", "t" * 20, {"box.lan"})
    assert remote.host_allowed("192.0.2.7:8000") and remote.host_allowed("box.lan:8000")
    assert not remote.host_allowed("localhost:8000") and not remote.host_allowed("other.lan:8000")


def test_files_become_a_tree_of_folders_then_files():
    tree = file_tree(["main.py", "game/snake.py", "game/board/grid.py", "README.md"])
    assert [item["name"] for item in tree] == ["game/", "README.md", "main.py"]
    game = tree[0]["children"]
    assert game[0]["name"] == "board/" and game[0]["children"] == [{"name": "grid.py", "path": "game/board/grid.py"}]
    assert game[1] == {"name": "snake.py", "path": "game/snake.py"}


def test_markdown_keeps_structure_and_drops_active_content():
    text = '# Title\n\n<b onclick="x()">raw</b> [a](javascript:alert(1)) ![i](javascript:x) <a id="project">\n'
    html = markdown(text)
    assert "<h1>Title</h1>" in html and "&lt;b onclick" in html
    assert 'href="javascript' not in html and 'src="javascript' not in html
    assert sanitize('<p id="status" onclick="x()" style="color:red">t</p><script>x()</script>') == "<p>t</p>"


def _run(status: str, reason: str = "") -> RunRow:
    return RunRow(status, "idea", 3.0, 0.0, None, reason, 1, {})


def test_the_status_is_the_journal_corrected_by_the_lock():
    assert run_status(_run("running"), alive=True) == "running"
    assert run_status(_run("running"), alive=False) == "interrupted"  # killed without a word
    assert run_status(_run("interrupted"), alive=True) == "running"  # a resume holds the lock
    assert run_status(_run("failed", "NoMoneyException: spent"), alive=False) == "budget"
    assert run_status(_run("failed", "ValueError: x"), alive=False) == "failed"
    assert run_status(_run("finished"), alive=False) == "finished"


def test_project_names_are_the_clis():
    assert all(valid_name(n) for n in ("snake", "cli_snake_game_2", "p_2048", "_x"))
    assert not any(valid_name(n) for n in ("", "..", "Snake", "a-b", ".metagpt", "a/b", "x" * 81))


def test_a_run_gets_a_free_name_the_cli_keeps(tmp_path):
    from metagpt.utils.paths import to_identifier
    from metagpt.web.runs import Runs

    runs = Runs(tmp_path)
    runs._spawn = lambda run: setattr(run, "state", "running")  # no process: only the names matter here
    long = "a very long idea about a command line snake game with levels and scores"
    first = runs.free_name(long, fixed=False)
    (tmp_path / first).mkdir()
    runs.submit(runs.free_name(long, fixed=False), [], "new")  # reserved while it runs, before its folder exists
    third = runs.free_name(long, fixed=False)
    names = [first, *runs.names(), third]
    assert len(set(names)) == 3 and names[1].endswith("_2") and third.endswith("_3")
    assert all(to_identifier(name) == name and len(name) <= 40 for name in names)
    assert runs.free_name("Snake!", fixed=True) == "snake"
