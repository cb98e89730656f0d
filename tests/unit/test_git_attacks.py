"""Git is our tool: what generated code planted in the project folder never runs or redirects it.

Each test plants what a hostile test did when it ran in the project folder (the attacks of the
"untrusted code stays in its box" issue) and checks that the company's next commit neither runs
the planted command, nor records or deletes files outside, nor blocks, nor leaks a secret.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from metagpt.utils import git_history
from metagpt.utils.git_history import ATTRIBUTES, GitHistory, git_env

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "p"
    history = GitHistory(path)
    history.init()
    (path / "app.py").write_text("print('hi')\n")
    return path


async def test_a_planted_filter_never_runs(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    config = project / ".git" / "config"
    written = config.read_bytes()
    with config.open("a") as file:
        file.write(f"[filter \"pwn\"]\n\tclean = sh -c 'env > {marker}; cat'\n\tsmudge = cat\n\trequired = true\n")
    (project / ".gitattributes").write_text("* filter=pwn\n")
    history = GitHistory(project)
    history.init()
    assert await history.commit("after the attack")
    assert not marker.exists()
    assert config.read_bytes() == written
    assert (project / ".git" / "info" / "attributes").read_bytes() == ATTRIBUTES
    assert _git(project, "show", "HEAD:app.py") == "print('hi')\n"  # stored as is, not filtered


async def test_config_planted_after_init_is_undone_before_each_commit(project: Path, tmp_path: Path) -> None:
    history = GitHistory(project)
    history.init()
    assert await history.commit("first")
    marker, outside = tmp_path / "pwned", tmp_path / "outside"
    outside.mkdir()
    (outside / "stolen.txt").write_text("outside file")
    with (project / ".git" / "config").open("a") as file:
        file.write(f"[core]\n\tworktree = {outside}\n\tfsmonitor = touch {marker}\n\thooksPath = {tmp_path}\n")
    (project / ".git" / "hooks").mkdir(exist_ok=True)
    for hook in ("pre-commit", "post-commit", "commit-msg"):
        (project / ".git" / "hooks" / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (project / ".git" / "hooks" / hook).chmod(0o755)
        (tmp_path / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (tmp_path / hook).chmod(0o755)
    (project / "more.py").write_text("x = 1\n")
    assert await history.commit("second")
    assert not marker.exists()
    files = _git(project, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert "stolen.txt" not in files and {"app.py", "more.py"} <= set(files)
    assert "worktree" not in (project / ".git" / "config").read_text()


async def test_a_link_planted_for_info_does_not_take_the_write_outside(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    info = project / ".git" / "info"
    shutil.rmtree(info, ignore_errors=True)
    info.symlink_to(outside)
    os.unlink(project / ".git" / "config")
    (project / ".git" / "config").symlink_to(outside / "config")
    history = GitHistory(project)

    history._ready = True
    assert await history.commit("through links")
    assert list(outside.iterdir()) == []
    assert not info.is_symlink() and (info / "attributes").read_bytes() == ATTRIBUTES


async def test_git_gets_no_secret_of_ours(project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret-0123456789")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    env = git_env(tmp_path / "home")
    assert set(env) >= {"PATH", "HOME", "LC_ALL", "GIT_CONFIG_NOSYSTEM"}
    assert "sk-parent-secret" not in repr(env) and "GIT_DIR" not in env
    history = GitHistory(project)
    history.init()
    assert await history.commit("with a key in our environment")
    assert history.log() == ["with a key in our environment"]


async def test_a_hanging_git_is_killed_with_its_group_and_its_lock_removed(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    beat = tmp_path / "beat"
    (bin_dir / "git").write_text(
        "#!/bin/sh\n"
        f"touch {project}/.git/index.lock\n"
        f"(while true; do echo . >> {beat}; sleep 0.05; done) &\n"
        "exec sleep 100\n"
    )
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(git_history, "GIT_TIMEOUT", 1.0)
    history = GitHistory(project)
    history._ready = True
    start = time.monotonic()
    with pytest.raises(git_history._GitFailed, match=r"killed; removed its stale lock .*\.git/index\.lock"):
        history._git("status")
    assert time.monotonic() - start < 5
    assert not (project / ".git" / "index.lock").exists()
    size = beat.stat().st_size
    time.sleep(0.3)
    assert beat.stat().st_size == size  # the filter's child died with it


def test_a_lock_held_by_a_live_git_is_kept(project: Path, tmp_path: Path) -> None:
    fake = tmp_path / "git"
    shutil.copy("/bin/sleep", fake)  # a process whose name is git, working in the project
    lock = project / ".git" / "index.lock"
    lock.write_text("")
    process = subprocess.Popen([str(fake), "30"], cwd=project)
    try:
        deadline = time.monotonic() + 5
        while not git_history._git_running_in(project) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert GitHistory(project).clear_stale_lock() is False
        assert lock.exists()
    finally:
        process.kill()
        process.wait()
    assert GitHistory(project).clear_stale_lock() is True
    assert not lock.exists()
