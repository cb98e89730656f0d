"""The generated project's git history: one commit a stage, safe without git."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from loguru import logger

from metagpt.utils import git_history
from metagpt.utils.git_history import IGNORED, LAST_COMMIT, GitHistory

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture
def warnings() -> list[str]:
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(m.record["message"]), level="WARNING")
    yield messages
    logger.remove(sink)


@pytest.fixture(autouse=True)
def _no_user_git_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A user with no global identity and a hook that would fail every commit."""
    home = tmp_path / "home"
    hooks = home / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 1\n")
    (hooks / "pre-commit").chmod(0o755)
    (home / ".gitconfig").write_text(f"[core]\n\thooksPath = {hooks}\n[commit]\n\tgpgsign = true\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setattr(git_history, "_warned_missing", False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "The User")  # the user's own git, as `_git` runs it
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "user@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "The User")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "user@example.com")


PLAIN = ("-c", "core.hooksPath=", "-c", "commit.gpgSign=false")
"""The user's git without the failing hook and the signing `_no_user_git_config` gives it."""


def _git(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True).stdout


async def test_init_commits_and_log(tmp_path: Path) -> None:
    project = tmp_path / "snake"
    history = GitHistory(project)
    assert not project.exists()  # constructing touches nothing
    assert history.enabled
    history.init()
    assert (project / ".git").is_dir()
    assert (project / ".gitignore").read_text() == (
        "__pycache__/\n.pytest_cache/\n/mermaid.min.js\n/.metagpt/\n/logs/\n/index.html\n"
    )
    local = subprocess.run(["git", "config", "--local", "--list"], cwd=project, capture_output=True, text=True)
    assert "user." not in local.stdout and "hooks" not in local.stdout.lower()  # the identity is per call
    assert not (Path(os.environ["HOME"]) / ".gitconfig").read_text().count("MetaGPT")

    (project / "docs").mkdir()
    (project / "docs" / "prd.md").write_text("# PRD\n")
    first = await history.commit("Write the PRD")
    (project / "main.py").write_text("print('hi')\n")
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    second = await history.commit("Write the code")

    assert first and second and first != second
    assert history.log() == ["Write the PRD", "Write the code"]
    assert _git(project, "rev-parse", "--short", "HEAD").strip() == second
    tracked = _git(project, "ls-files").split()
    assert tracked == [".gitignore", "docs/prd.md", "main.py"]
    author = _git(project, "log", "-1", "--format=%an <%ae>").strip()
    assert author == "MetaGPT <metagpt@localhost>"


async def test_nothing_changed_returns_none(tmp_path: Path) -> None:
    history = GitHistory(tmp_path / "p")
    history.init()
    assert await history.commit("first") is not None
    assert await history.commit("again, nothing new") is None
    assert history.log() == ["first"]


async def test_commit_sets_up_the_repository_when_init_was_not_called(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "a.txt").write_text("a")
    history = GitHistory(project)
    assert await history.commit("stage one")
    assert history.log() == ["stage one"]


async def test_init_keeps_an_existing_repository(tmp_path: Path) -> None:
    project = tmp_path / "p"
    history = GitHistory(project)
    history.init()
    (project / "a.txt").write_text("a")
    await history.commit("one")
    (project / ".gitignore").write_text("*.log\n")
    GitHistory(project).init()
    assert history.log() == ["one"]
    assert (project / ".gitignore").read_text() == "*.log\n" + "".join(f"{line}\n" for line in IGNORED)


async def test_concurrent_commits_all_land_in_order(tmp_path: Path, warnings: list[str]) -> None:
    project = tmp_path / "p"
    history = GitHistory(project)
    history.init()

    async def stage(i: int) -> str | None:
        await asyncio.sleep(0.01 * i)
        (project / f"file_{i}.py").write_text(f"x = {i}\n")
        return await history.commit(f"stage {i}")

    shas = await asyncio.gather(*(stage(i) for i in range(6)))
    # A commit may find its file already taken by an earlier one (git runs in a thread while
    # other tasks write); what lands is in call order, nothing is lost, nothing fails.
    landed = [f"stage {i}" for i, sha in enumerate(shas) if sha]
    assert history.log() == landed
    assert landed[0] == "stage 0"
    assert len({sha for sha in shas if sha}) == len(landed)
    assert _git(project, "ls-files").split() == [".gitignore", *(f"file_{i}.py" for i in range(6))]
    assert _git(project, "status", "--porcelain") == ""
    assert warnings == []


async def test_concurrent_commits_are_serialised(tmp_path: Path) -> None:
    project = tmp_path / "p"
    history = GitHistory(project)
    history.init()
    for i in range(5):
        (project / f"f{i}.txt").write_text(str(i))

    shas = await asyncio.gather(*(history.commit(f"stage {i}") for i in range(5)))
    # The first commit took every file; the others, run one after another, found nothing new
    # (without the lock they would race on git's index lock and log warnings).
    assert shas[0] is not None and shas[1:] == [None] * 4
    assert history.log() == ["stage 0"]


async def test_git_failure_is_a_warning_not_an_error(
    tmp_path: Path, warnings: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "p"
    history = GitHistory(project)
    history.init()
    (project / "a.txt").write_text("a")
    (project / ".git" / "index.lock").write_text("")
    running = git_history.git_running_in
    monkeypatch.setattr(git_history, "git_running_in", lambda folder: True)  # a live git holds it
    assert await history.commit("blocked") is None
    assert any("could not record 'blocked'" in m for m in warnings)
    assert (project / ".git" / "index.lock").exists()
    monkeypatch.setattr(
        git_history, "git_running_in", running
    )  # now nobody holds it: the stale lock is removed and the commit lands
    assert await history.commit("unblocked")
    assert history.log() == ["unblocked"]
    assert any("removed a stale git lock" in m and "index.lock" in m for m in warnings)


async def test_without_git_history_is_off_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warnings: list[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    first, second = GitHistory(tmp_path / "a"), GitHistory(tmp_path / "b")
    assert not first.enabled
    first.init()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    assert await first.commit("code") is None
    assert await second.commit("code") is None
    assert first.log() == [] and second.log() == []
    assert not (tmp_path / "a" / ".git").exists()
    assert warnings == ["git not found: the project's history is off"]


async def test_which_returning_none_disables_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *_a, **_k: None)
    history = GitHistory(tmp_path)
    assert not history.enabled
    assert await history.commit("x") is None


def test_rendered_diagrams_wait_for_the_runs_last_commit(tmp_path: Path) -> None:
    """Pictures are drawn in the background: a stage's commit never holds them, so it is the same
    on every run; the last commit takes them, new, redrawn or removed."""
    root = tmp_path / "project"
    history = GitHistory(root)

    def files(ref: str) -> list[str]:
        shown = subprocess.run(
            ["git", "show", "--name-only", "--format=", ref], cwd=root, capture_output=True, text=True
        )
        return sorted(shown.stdout.split())

    (root / "resources").mkdir(parents=True)
    (root / "resources" / "seq_flow.mmd").write_text("sequenceDiagram\n")
    for fmt in ("svg", "png", "pdf"):
        (root / "resources" / f"seq_flow.{fmt}").write_bytes(b"picture")
    (root / "main.py").write_text("print('hi')\n")
    asyncio.run(history.commit("Architect: WriteDesign"))
    assert files("HEAD") == [".gitignore", "main.py", "resources/seq_flow.mmd"]
    asyncio.run(history.commit(LAST_COMMIT, pictures=True))
    assert files("HEAD") == [f"resources/seq_flow.{fmt}" for fmt in ("pdf", "png", "svg")]
    (root / "resources" / "seq_flow.png").unlink()  # a redraw removes the old picture first
    (root / "main.py").write_text("print('bye')\n")
    asyncio.run(history.commit("Engineer: WriteCode"))
    assert files("HEAD") == ["main.py"]
    asyncio.run(history.commit(LAST_COMMIT, pictures=True))
    assert files("HEAD") == ["resources/seq_flow.png"]


async def test_git_log_p_shows_text_diffs(tmp_path: Path) -> None:
    """`git log -p` shows how the project evolved: nothing makes its files binary to git."""
    project = tmp_path / "p"
    history = GitHistory(project)
    history.init()
    (project / "main.py").write_text("x = 1\ny = 2\n")
    await history.commit("Write the code")
    (project / "main.py").write_text("x = 10\ny = 2\n")
    await history.commit("Change x")
    patch = _git(project, "log", "-p", "--format=%s")
    assert "Binary files" not in patch
    assert "-x = 1\n+x = 10\n y = 2\n" in _git(project, "show", "HEAD")
    assert "+x = 1\n+y = 2\n" in patch
    assert not os.path.lexists(project / ".git" / "info" / "attributes")


async def test_branches_touching_different_lines_of_a_file_merge_cleanly(tmp_path: Path) -> None:
    project = tmp_path / "p"
    history = GitHistory(project)
    history.init()
    (project / "main.py").write_text("".join(f"line {i}\n" for i in range(10)))
    await history.commit("Write the code")
    _git(project, "checkout", "-q", "-b", "top")
    (project / "main.py").write_text((project / "main.py").read_text().replace("line 0\n", "line zero\n"))
    _git(project, *PLAIN, "commit", "-qam", "top")
    _git(project, "checkout", "-q", "main")
    (project / "main.py").write_text((project / "main.py").read_text().replace("line 9\n", "line nine\n"))
    await history.commit("Change the last line")
    merged = subprocess.run(
        ["git", *PLAIN, "merge", "-q", "--no-edit", "top"], cwd=project, capture_output=True, text=True
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    text = (project / "main.py").read_text()
    assert text.startswith("line zero\n") and text.endswith("line nine\n")


async def test_a_repositorys_own_config_and_attributes_stay_byte_for_byte(tmp_path: Path) -> None:
    root = tmp_path / "theirs"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "The User")
    _git(root, "remote", "add", "origin", "https://example.com/me/theirs.git")
    (root / "a.txt").write_text("a\n")
    _git(root, "add", "a.txt")
    _git(root, *PLAIN, "commit", "-qm", "mine")
    _git(root, "branch", "feature")
    (root / ".git" / "info" / "attributes").write_text("*.txt diff\n")
    config, attributes = (root / ".git" / "config").read_bytes(), (root / ".git" / "info" / "attributes").read_bytes()
    history = GitHistory(root)
    history.init()
    (root / "b.txt").write_text("b\n")
    assert await history.commit("ours")
    history.put_back()
    assert (root / ".git" / "config").read_bytes() == config
    assert (root / ".git" / "info" / "attributes").read_bytes() == attributes
    assert sorted(p.name for p in (root / ".git").iterdir() if "metagpt" in p.name) == []
    assert _git(root, "log", "--format=%an: %s").splitlines() == ["MetaGPT: ours", "The User: mine"]


def test_what_an_earlier_version_wrote_is_repaired_on_open(tmp_path: Path) -> None:
    """Versions before this one wrote `* -filter -diff -merge -text ...` attributes and their own
    config over the repository's (kept as `config.before-metagpt`): both are undone on open."""
    root = tmp_path / "theirs"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "remote", "add", "origin", "https://example.com/me/theirs.git")
    own = (root / ".git" / "config").read_bytes()
    (root / ".git" / "config.before-metagpt").write_bytes(own)
    (root / ".git" / "config").write_bytes(git_history.LEGACY_CONFIG)
    (root / ".git" / "info" / "attributes").write_bytes(git_history.LEGACY_ATTRIBUTES)
    GitHistory(root).init()
    assert (root / ".git" / "config").read_bytes() == own
    assert not os.path.lexists(root / ".git" / "config.before-metagpt")
    assert not os.path.lexists(root / ".git" / "info" / "attributes")
    made_by_us = tmp_path / "ours"  # a project an earlier version made keeps that config: it is its own
    made_by_us.mkdir()
    _git(made_by_us, "init", "-q")
    (made_by_us / ".git" / "config").write_bytes(git_history.LEGACY_CONFIG)
    GitHistory(made_by_us).init()
    assert (made_by_us / ".git" / "config").read_bytes() == git_history.LEGACY_CONFIG
