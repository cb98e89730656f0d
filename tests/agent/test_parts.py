"""The agent's parts on their own: the answer model, the editor, stuck patterns, the check, the trace."""

from __future__ import annotations

import json
import os

import pytest

from metagpt.config import Config
from metagpt.exceptions import UserError
from metagpt.project_repo import ProjectRepo
from metagpt.roles.di.agent.check import GoalCheck
from metagpt.roles.di.agent.commands import CommandCall, ToolFailure, answer_model, parse_answer, request_schema
from metagpt.roles.di.agent.editor import Editor
from metagpt.roles.di.agent.memory import Observation, StepRecord
from metagpt.roles.di.agent.stuck import StuckDetector
from metagpt.roles.di.agent.toolbox import Toolbox
from metagpt.roles.di.agent.trace import append_step, read_steps
from metagpt.utils.atomic import append_line


@pytest.fixture
def project(workspace) -> ProjectRepo:
    return ProjectRepo(workspace, "parts", fixed=True)


@pytest.fixture
def toolbox(project) -> Toolbox:
    return Toolbox(project, Config(api_type="fake"), [], None, None)


def test_answers_are_validated_per_command_with_errors_naming_the_argument(toolbox):
    model = answer_model(list(toolbox.commands.values()))
    ok = parse_answer(
        '```json\n{"thought": "t", "commands": [{"command_name": "Editor.search", "args": {"text": "x"}}]}\n```', model
    )
    assert ok.commands == [CommandCall(command_name="Editor.search", args={"text": "x", "path": "."})]
    with pytest.raises(ValueError, match=r"commands\.0\.Editor\.write\.args\.content: Field required"):
        parse_answer('{"thought": "", "commands": [{"command_name": "Editor.write", "args": {"path": "a"}}]}', model)
    with pytest.raises(ValueError, match=r"Extra inputs are not permitted"):
        parse_answer('{"thought": "", "commands": [{"command_name": "finish", "args": {"reason": "", "x": 1}}]}', model)
    with pytest.raises(ValueError, match=r"commands: List should have at least 1 item"):
        parse_answer('{"thought": "", "commands": []}', model)


def test_the_request_schema_is_a_plain_any_of_with_every_command(toolbox):
    schema = request_schema(answer_model(list(toolbox.commands.values())))
    text = json.dumps(schema)
    assert "oneOf" not in text and "discriminator" not in text and '"const"' not in text
    names = {
        d["properties"]["command_name"]["enum"][0]
        for d in schema["$defs"].values()
        if "command_name" in d.get("properties", {})
    }
    assert names >= {"Plan.append_task", "Editor.write", "Terminal.run", "finish"} and "ask_human" not in names


def test_the_answer_schema_becomes_a_llama_grammar(toolbox):
    pytest.importorskip("llama_cpp")
    from metagpt.provider.llama_grammar import json_grammar

    assert json_grammar(request_schema(answer_model(list(toolbox.commands.values()))), 1024) is not None


def test_editor_search_replace_and_read(project):
    editor = Editor(project)
    editor.write("src/a.py", "x = 1\ny = 2\n")
    editor.write("b.txt", "y = 2 here too\n")
    assert editor.search("y = 2") == "b.txt:1: y = 2 here too\nsrc/a.py:2: y = 2"
    assert editor.search("y = 2", "src") == "src/a.py:2: y = 2"
    assert editor.replace("src/a.py", "y = 2", "y = 3") == "wrote src/a.py: 12 bytes"
    assert editor.read("src/a.py") == "x = 1\ny = 3\n"
    with pytest.raises(ToolFailure, match="does not occur"):
        editor.replace("src/a.py", "nope", "x")
    editor.write("twice.txt", "a a")
    with pytest.raises(ToolFailure, match="occurs 2 times"):
        editor.replace("twice.txt", "a", "b")
    assert (
        editor.write(str(project.path / "abs.txt"), "inside")
        == f"wrote abs.txt: 6 bytes (the path {str(project.path / 'abs.txt')!r} was normalised)"
    )


def test_editor_refuses_a_folder_link_and_git_files(project, tmp_path):
    outside = tmp_path / "out"
    outside.mkdir()
    os.symlink(outside, project.path / "linked")
    editor = Editor(project)
    with pytest.raises(ToolFailure, match="refused"):
        editor.write("linked/x.txt", "x")
    with pytest.raises(ToolFailure, match="link"):
        editor.read("linked/x.txt")
    with pytest.raises(ToolFailure, match="git"):
        editor.write(".git/config", "x")
    assert list(outside.iterdir()) == []


def step(n: int, command: str, ok: bool, output: str) -> StepRecord:
    call = CommandCall(command_name="Terminal.run", args={"command": command})
    return StepRecord(step=n, commands=[call], observations=[Observation(command=call, ok=ok, output=output)])


def test_stuck_patterns():
    detector = StuckDetector()
    assert [detector.add(step(i, "false", False, f"run {i}")) for i in range(3)][-1] == (
        "the same failing command 3 times in a row"
    )
    detector = StuckDetector()
    assert [detector.add(step(i, "ls", True, "a")) for i in range(4)] == [None, None, None, (
        "the same commands and observations 4 times in a row"
    )]  # fmt: skip
    detector = StuckDetector()
    found = [detector.add(step(i, "ls" if i % 2 else "pwd", True, "x")) for i in range(6)]
    assert found == [None] * 5 + ["an alternation of two steps over the last 6 steps"]
    detector = StuckDetector()  # progress: different commands never match
    assert all(detector.add(step(i, f"echo {i}", True, str(i))) is None for i in range(12))


def test_goal_checks_parse():
    assert GoalCheck.parse("file:out/a.txt:x:y") == GoalCheck("file:out/a.txt:x:y", "out/a.txt", "x:y")
    assert GoalCheck.parse("pytest -q").path == ""
    for bad in ("", "file:a.txt", "file::x", "file:../a:x"):
        with pytest.raises(UserError):
            GoalCheck.parse(bad)


async def test_a_file_check_never_follows_a_link(project, tmp_path):
    (tmp_path / "secret.txt").write_text("42")
    os.symlink(tmp_path / "secret.txt", project.path / "out.txt")
    result = await GoalCheck.parse("file:out.txt:42").run(project.path, 10)
    assert not result.passed and "symbolic link" in result.output


def test_steps_are_appended_whole_and_a_cut_last_line_is_skipped(project, tmp_path):
    append_step(project.path, step(1, "ls", True, "a"))
    append_step(project.path, step(2, "ls", True, "b"))
    with open(project.path / "steps.jsonl", "a") as handle:
        handle.write('{"step": 3, "thou')  # a crash mid-write
    assert [s["step"] for s in read_steps(project.path)] == [1, 2]
    os.symlink(tmp_path / "elsewhere", tmp_path / "link.jsonl")
    with pytest.raises(OSError):
        append_line(tmp_path / "link.jsonl", "x")
    assert not (tmp_path / "elsewhere").exists()
