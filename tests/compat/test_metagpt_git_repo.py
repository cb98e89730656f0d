"""`context.git_repo` and `GitRepository` in the shape of MetaGPT 0.6-0.7's tests of them."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from metagpt.context import Context
from metagpt.project_repo import ProjectRepo
from metagpt.utils.git_repository import GitRepository

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def test_git_repository_on_a_folder(tmp_path):
    local_path = tmp_path / "git"
    repo = GitRepository(local_path=local_path, auto_init=True)
    assert local_path.exists() and local_path == repo.workdir and repo.is_valid
    assert not repo.changed_files

    (local_path / "a.txt").write_text("a")
    (local_path / "b.txt").write_text("b")
    (local_path / "subdir").mkdir()
    (local_path / "subdir" / "c.txt").write_text("c")
    assert repo.changed_files == {"a.txt": "U", "b.txt": "U", "subdir/c.txt": "U"}
    repo.add_change(repo.changed_files)
    assert repo.commit("commit1")
    assert not repo.changed_files

    (local_path / "a.txt").write_text("tests")
    (local_path / "subdir" / "d.txt").write_text("d")
    (local_path / "b.txt").unlink()
    assert repo.status
    assert repo.changed_files == {"a.txt": "M", "b.txt": "D", "subdir/d.txt": "U"}
    repo.add_change(repo.changed_files)
    repo.commit("commit2")
    assert not repo.changed_files and repo.commit("nothing new") is None
    log = subprocess.run(["git", "log", "--format=%s"], cwd=local_path, capture_output=True, text=True).stdout
    assert log.split() == ["commit2", "commit1", "Add", ".gitignore"]

    repo.delete_repository()
    assert not local_path.exists()


def test_context_git_repo_is_the_open_projects_repository(fake_config, tmp_path):
    context = Context(fake_config)
    assert context.git_repo is None  # no project open yet
    context.project = ProjectRepo(tmp_path / "workspace", "snake game")
    repo = context.git_repo
    assert repo is context.git_repo and repo.workdir == context.project.path
    assert not (repo.workdir / ".git").exists()  # reading the handle created nothing

    context.project.write("main.py", "print('snake')\n")
    assert repo.commit("Write main.py") and not repo.changed_files
    assert context.project.history.log() == ["Write main.py"]  # the same history the company keeps
    (repo.workdir / "main.py").write_text("print('snake 2')\n")
    assert repo.changed_files == {"main.py": "M"}

    context.git_repo = None  # as MetaGPT's test_environment resets it
    assert context.git_repo is None


def test_delete_repository_refuses_a_folder_that_is_not_a_repository(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="nothing was deleted"):
        GitRepository(tmp_path, auto_init=False).delete_repository()
    assert (tmp_path / "keep.txt").exists()


def test_reading_git_repo_imports_nothing_at_startup():
    code = "import metagpt, metagpt.context, sys; print('metagpt.utils.git_repository' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
