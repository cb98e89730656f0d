"""ProjectRepo: free folder names, renaming, writes confined to the folder, documents on disk."""

from __future__ import annotations

import json
import os

import pytest

from metagpt.actions import PRD, SystemDesign, Tasks
from metagpt.actions.document import strip_fence
from metagpt.exceptions import ProjectFolderError
from metagpt.project_repo import ProjectRepo, free_path
from metagpt.provider.fake import sample_from_schema


def sample(model):
    schema = model.model_json_schema()
    return model.model_validate(sample_from_schema(schema, schema.get("$defs", {})))


def tree(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_folder_names_are_unique(tmp_path):
    first = ProjectRepo(tmp_path, "Write a snake game")
    second = ProjectRepo(tmp_path, "Write a snake game")
    third = ProjectRepo(tmp_path, "snake game")

    assert [r.path.name for r in (first, second, third)] == ["snake_game", "snake_game_2", "snake_game_3"]
    assert all(r.path.is_dir() and r.path.parent == tmp_path.resolve() for r in (first, second, third))


def test_existing_folder_is_never_reused(tmp_path):
    (tmp_path / "snake").mkdir()
    (tmp_path / "snake" / "keep.txt").write_text("user data")

    repo = ProjectRepo(tmp_path, "snake", fixed=True)

    assert repo.path.name == "snake_2"
    assert (tmp_path / "snake" / "keep.txt").read_text() == "user data"


def test_fixed_name_keeps_filler_words_and_unusable_names_fall_back(tmp_path):
    assert ProjectRepo(tmp_path, "Make The Game", fixed=True).path.name == "make_the_game"
    assert ProjectRepo(tmp_path, "!!!").path.name == "project"


def test_free_path(tmp_path):
    assert free_path(tmp_path / "a") == tmp_path / "a"
    (tmp_path / "a").mkdir()
    (tmp_path / "a_2").touch()
    assert free_path(tmp_path / "a") == tmp_path / "a_3"


def test_adopt_name_renames_and_keeps_track_of_files(tmp_path):
    repo = ProjectRepo(tmp_path, "a snake game")
    repo.write("docs/prd.md", "# PRD\n", reserved=True)

    repo.adopt_name("CLI Snake Game")

    assert repo.path == tmp_path.resolve() / "cli_snake_game"
    assert tree(tmp_path) == ["cli_snake_game", "cli_snake_game/docs", "cli_snake_game/docs/prd.md"]
    assert repo.files == [repo.path / "docs" / "prd.md"]
    assert repo.files[0].read_text() == "# PRD\n"


def test_adopt_name_picks_a_free_name(tmp_path):
    (tmp_path / "cli_snake_game").mkdir()
    repo = ProjectRepo(tmp_path, "a snake game")

    repo.adopt_name("cli_snake_game")

    assert repo.path.name == "cli_snake_game_2"
    assert not (tmp_path / "snake_game").exists()


@pytest.mark.parametrize("name", ["cli_snake_game", "", "!!!", "snake_game"])
def test_adopt_name_keeps_a_fixed_same_or_unusable_name(tmp_path, name):
    fixed = ProjectRepo(tmp_path / "fixed", "snake game", fixed=True)
    unfixed = ProjectRepo(tmp_path / "free", "snake game")

    fixed.adopt_name(name)
    unfixed.adopt_name(name)

    assert fixed.path.name == "snake_game"
    assert unfixed.path.name == ("cli_snake_game" if name == "cli_snake_game" else "snake_game")


def test_write_creates_folders_and_records_each_file_once(tmp_path):
    repo = ProjectRepo(tmp_path, "demo", fixed=True)

    first = repo.write("pkg/main.py", "print(1)\n")
    repo.write("./pkg\\main.py", "print(2)\n")
    repo.write("README.md", "x")

    assert first == repo.path / "pkg" / "main.py"
    assert first.read_text() == "print(2)\n"
    assert repo.files == [first, repo.path / "README.md"]
    assert tree(repo.path) == ["README.md", "pkg", "pkg/main.py"]  # no temporary files left


@pytest.mark.parametrize("name", ["../evil.py", "/etc/passwd", "a/../../evil.py", "C:\\evil.py", ""])
def test_write_refuses_paths_escaping_the_folder(tmp_path, name):
    workspace = tmp_path / "ws"
    repo = ProjectRepo(workspace, "demo", fixed=True)

    with pytest.raises(ValueError):
        repo.write(name, "pwned")

    assert tree(tmp_path) == ["ws", "ws/demo"]
    assert repo.files == []


def test_write_refuses_to_follow_a_symlink_out_of_the_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = ProjectRepo(tmp_path / "ws", "demo", fixed=True)
    os.symlink(outside, repo.path / "link")

    with pytest.raises(ProjectFolderError, match="points outside the project folder"):
        repo.write("link/evil.py", "pwned")

    assert list(outside.iterdir()) == []


def test_save_document_writes_markdown_json_and_mermaid(tmp_path):
    repo = ProjectRepo(tmp_path, "demo", fixed=True)
    prd, design, tasks = sample(PRD), sample(SystemDesign), sample(Tasks)

    for document in (prd, design, tasks):
        repo.save_document(document)

    assert tree(repo.path) == [
        "docs",
        "docs/api_spec_and_tasks.json",
        "docs/api_spec_and_tasks.md",
        "docs/prd.json",
        "docs/prd.md",
        "docs/system_design.json",
        "docs/system_design.md",
        "resources",
        "resources/competitive_analysis.mmd",
        "resources/data_api_design.mmd",
        "resources/seq_flow.mmd",
    ]
    assert (repo.path / "docs/prd.md").read_text() == prd.to_markdown()
    assert PRD.model_validate(repo.read_json("docs/prd.json")) == prd
    assert json.loads((repo.path / "docs/system_design.json").read_text()) == design.model_dump(mode="json")
    assert (repo.path / "resources/seq_flow.mmd").read_text() == strip_fence(design.program_call_flow) + "\n"
    assert (repo.path / "resources/competitive_analysis.mmd").read_text().startswith("quadrantChart\n")
    assert len(repo.files) == 9
