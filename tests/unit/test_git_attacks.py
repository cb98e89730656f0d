"""Git is our tool: what generated code planted in the project folder never runs or redirects it.

Each test plants what a hostile test did when it ran in the project folder (the attacks of the
"untrusted code stays in its box" issue) and checks that the company's next commit neither runs
the planted command, nor records or deletes files outside, nor blocks, nor leaks a secret.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from metagpt.exceptions import HistoryError
from metagpt.incremental.history import ChangeHistory
from metagpt.utils import git_history, git_safe
from metagpt.utils.git_history import GitHistory
from metagpt.utils.git_safe import GitFailed, git_env

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


async def test_a_planted_filter_never_runs_and_the_config_is_put_back(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    config = project / ".git" / "config"
    history = GitHistory(project)
    history.init()
    written = config.read_bytes()
    planted = f"[filter \"pwn\"]\n\tclean = sh -c 'env > {marker}; cat'\n\tsmudge = cat\n\trequired = true\n"
    with config.open("a") as file:
        file.write(planted)
    (project / ".gitattributes").write_text("* filter=pwn\n")
    assert await history.commit("after the attack")
    assert not marker.exists()
    assert config.read_bytes() == written  # what the user's git reads is as the history found it
    assert (project / ".git" / "config.changed-during-metagpt").read_text().endswith(planted)  # moved, not lost
    assert not os.path.lexists(project / ".git" / "info" / "attributes")  # nothing of ours is written there
    assert _git(project, "show", "HEAD:app.py") == "print('hi')\n"  # stored as is, not filtered


async def test_a_hostile_repository_of_its_own_runs_nothing_and_stays_as_it_was(tmp_path: Path) -> None:
    """A repository opened as found (`--inc`): its own config defines a driver for every
    attribute, hooks, fsmonitor, pager, editor, signing and includes; none of it ever runs, and
    its config and attributes are left byte for byte."""
    marker = tmp_path / "pwned"
    root = tmp_path / "theirs"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    run = f"sh -c 'echo $0 >> {marker}; cat'"
    (tmp_path / "more.gitconfig").write_text(f'[filter "included"]\n\tclean = {run}\n\trequired = true\n')
    (tmp_path / "hooks").mkdir()
    for hook in ("pre-commit", "post-commit", "reference-transaction", "post-checkout", "post-index-change"):
        (tmp_path / "hooks" / hook).write_text(f"#!/bin/sh\necho {hook} >> {marker}\n")
        (tmp_path / "hooks" / hook).chmod(0o755)
    with (root / ".git" / "config").open("a") as file:
        file.write(
            f"[core]\n\thooksPath = {tmp_path / 'hooks'}\n\tfsmonitor = {run}\n\tsshCommand = {run}\n"
            f"\tpager = {run}\n\teditor = {run}\n"
            f'[filter "pwn"]\n\tclean = {run}\n\tsmudge = {run}\n\tprocess = {run}\n\trequired = true\n'
            f'[filter "a=b.c"]\n\tclean = {run}\n\trequired = true\n'
            f'[diff "pwn"]\n\ttextconv = {run}\n\tcommand = {run}\n[diff]\n\texternal = {run}\n'
            f'[merge "pwn"]\n\tdriver = {run}\n[log]\n\tshowSignature = true\n[gpg]\n\tprogram = {run}\n'
            f"[commit]\n\tgpgSign = true\n[include]\n\tpath = {tmp_path / 'more.gitconfig'}\n"
            f'[includeIf "gitdir:{root}/"]\n\tpath = {tmp_path / "more.gitconfig"}\n'
            f"[user]\n\tname = Them\n\temail = them@example.com\n"
        )
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "attributes").write_text("*.py diff=pwn merge=pwn\nb.txt filter=a=b.c\n")
    (root / ".gitattributes").write_text("* filter=pwn\nc.txt filter=included\n")
    for name in ("a.py", "b.txt", "c.txt"):
        (root / name).write_text(f"{name}\n")
    config, attributes = (root / ".git" / "config").read_bytes(), (root / ".git" / "info" / "attributes").read_bytes()

    history = ChangeHistory(root)
    assert history.open() is False
    assert len(history.dirty()) == 4
    first = history.commit_now("Existing code")
    for name in ("a.py", "b.txt", "c.txt"):
        (root / name).write_text(f"{name} changed\n")
    second = history.commit_now("A change")
    assert history.log() == ["Existing code", "A change"]
    assert history.changed_files(first) == ["a.py", "b.txt", "c.txt"]
    assert "+a.py changed" in history.diff(first)
    (root / "a.py").write_text("left uncommitted\n")
    assert history.rewind(first) == [second]  # stashes, resets: smudge and checkout hooks would run
    history.restore_tree(second)
    history.put_back()

    assert not marker.exists(), marker.read_text()
    assert _git(root, "cat-file", "-p", f"{second}:b.txt") == "b.txt changed\n"  # stored unfiltered
    assert (root / ".git" / "config").read_bytes() == config
    assert (root / ".git" / "info" / "attributes").read_bytes() == attributes
    assert _git(root, "log", "-1", "--format=%an", first).strip() == "MetaGPT"


def test_a_nested_repositorys_drivers_never_run(project: Path, tmp_path: Path) -> None:
    """Generated code made a repository inside the project, with a filter and an fsmonitor in its
    own config: `git add`, `status` or `stash` would run `git status` in it, where our settings
    cannot name its drivers."""
    marker = tmp_path / "pwned"
    history = ChangeHistory(project)
    history.open()
    first = history.commit_now("first")
    nested = project / "vendor"
    nested.mkdir()
    _git(nested, "init", "-q")
    (nested / ".gitattributes").write_text("* filter=evil\n")
    (nested / "y.txt").write_text("y\n")
    _git(nested, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    _git(nested, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "nested")
    _git(nested, "config", "filter.evil.clean", f"sh -c 'touch {marker}; cat'")
    _git(nested, "config", "core.fsmonitor", f"touch {marker}")
    second = history.commit_now("with a nested repository")  # its gitlink
    assert "160000" in _git(project, "ls-files", "--stage", "vendor")

    def stat_dirty(step: int) -> None:
        later = time.time() + 10 + step
        os.utime(nested / "y.txt", (later, later))
        (project / f"more{step}.py").write_text("x = 1\n")

    stat_dirty(0)
    third = history.commit_now("round 0")
    stat_dirty(1)
    assert history.dirty() == ["?? more1.py"]
    assert history.rewind(second) == [third]  # stashes the tree, resets it
    stat_dirty(2)
    history.restore_tree(first)
    assert not marker.exists()


async def test_links_planted_for_info_and_config_are_moved_aside_and_nothing_moves_outside(
    project: Path, tmp_path: Path
) -> None:
    marker, outside = tmp_path / "pwned", tmp_path / "outside"
    outside.mkdir()
    (outside / "attributes").write_text("* filter=pwn\n")
    history = GitHistory(project)
    history.init()
    config = (project / ".git" / "config").read_bytes()
    assert await history.commit("first")
    info = project / ".git" / "info"
    shutil.rmtree(info, ignore_errors=True)
    info.symlink_to(outside)
    os.unlink(project / ".git" / "config")
    (outside / "config").write_text(f'[filter "pwn"]\n\tclean = touch {marker}\n')
    (project / ".git" / "config").symlink_to(outside / "config")
    (project / "more.py").write_text("x = 1\n")

    assert await history.commit("through links")
    assert not marker.exists()
    assert sorted(p.name for p in outside.iterdir()) == ["attributes", "config"]
    assert (outside / "attributes").read_text() == "* filter=pwn\n"
    assert not info.is_symlink() and not os.path.lexists(info / "attributes")
    assert (project / ".git" / "info.changed-during-metagpt").is_symlink()
    assert not (project / ".git" / "config").is_symlink()
    assert (project / ".git" / "config").read_bytes() == config


def test_a_config_that_is_a_pipe_is_refused_at_once(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    _git(root, "init", "-q")
    os.unlink(root / ".git" / "config")
    os.mkfifo(root / ".git" / "config")  # every git reading it would wait for a writer
    start = time.monotonic()
    with pytest.raises(HistoryError, match=r"config is not a plain file"):
        ChangeHistory(root).open()
    assert time.monotonic() - start < 5


async def test_git_gets_no_secret_of_ours(project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret-0123456789")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    env = git_env()
    assert set(env) >= {"PATH", "HOME", "LC_ALL", "GIT_CONFIG_NOSYSTEM"}
    assert "sk-parent-secret" not in repr(env) and "GIT_DIR" not in env
    assert git_env([("core.hooksPath", "/dev/null")])["GIT_CONFIG_KEY_0"] == "core.hooksPath"
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
    monkeypatch.setattr(git_safe, "GIT_TIMEOUT", 1.0)
    history = GitHistory(project)
    history._ready = True
    start = time.monotonic()
    with pytest.raises(GitFailed, match=r"killed; removed its stale lock .*\.git/index\.lock"):
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
        while not git_safe.git_running_in(project) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert GitHistory(project).clear_stale_lock() is False
        assert lock.exists()
    finally:
        process.kill()
        process.wait()
    assert GitHistory(project).clear_stale_lock() is True
    assert not lock.exists()


async def test_git_reads_no_home_and_leaves_no_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Git's home is `/dev/null`: a user's `~/.config/git/attributes` is never read, and no
    private folder is made per call that a process killed mid-call would leave in TMPDIR."""
    home, scratch = tmp_path / "home", tmp_path / "scratch"
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".config" / "git" / "attributes").write_text("* filter=planted\n")
    (home / ".gitconfig").write_text('[filter "planted"]\n\tclean = touch ' + str(tmp_path / "ran") + "\n")
    scratch.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    seen: list[list[Path]] = []
    run_git = git_history.run_git

    def watched(*args, **kwargs):
        seen.append(list(scratch.iterdir()))  # what a SIGKILL at this moment would leave
        return run_git(*args, **kwargs)

    monkeypatch.setattr(git_history, "run_git", watched)
    history = GitHistory(project)
    history.init()
    (project / "a.py").write_text("print(1)\n")
    assert await history.commit("one file")
    assert history.log() == ["one file"] and not (tmp_path / "ran").exists()
    assert seen and all(listing == [] for listing in seen)
