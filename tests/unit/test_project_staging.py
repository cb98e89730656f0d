"""A company's project folder appears under its name only with its journal inside, so it always resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from metagpt.config import Config
from metagpt.const import STATE_DB
from metagpt.project_repo import STAGING_MARK, ProjectRepo
from metagpt.software_company import SoftwareCompany, sweep_staging

ROOT = Path(__file__).resolve().parents[2]


def staging(workspace: Path) -> list[Path]:
    return [p for p in workspace.iterdir() if STAGING_MARK in p.name]


def test_a_staged_folder_is_hidden_until_published_then_takes_a_free_name(tmp_path):
    (tmp_path / "snake").mkdir()
    (tmp_path / "snake" / "theirs.txt").write_text("kept")
    project = ProjectRepo(tmp_path, "snake", fixed=True, staged=True)
    assert project.path.name.startswith(".snake" + STAGING_MARK)
    project.write("main.py", "print('hi')\n")
    project.publish()
    assert project.path == tmp_path / "snake_2" and not project.staged
    assert (tmp_path / "snake_2" / "main.py").read_text() == "print('hi')\n"
    assert project.files == [tmp_path / "snake_2" / "main.py"]
    assert (tmp_path / "snake" / "theirs.txt").read_text() == "kept"
    assert staging(tmp_path) == []


def test_a_company_project_holds_its_journal_from_the_moment_it_has_its_name(tmp_path):
    company = SoftwareCompany(Config(api_type="fake", workspace_path=tmp_path))
    path = company.start_project("a snake game", project_name="snake")
    try:
        assert path == tmp_path / "snake"
        assert (path / STATE_DB).is_file()
        assert company.journal.first_run().idea == "a snake game"
        assert staging(tmp_path) == []
    finally:
        company._release()


def test_a_run_killed_while_setting_up_leaves_no_named_folder_and_the_next_run_sweeps_it(tmp_path):
    script = (
        "import os, signal, sys\n"
        "from metagpt.project_repo import ProjectRepo\n"
        "from metagpt.journal.lock import ProjectLock\n"
        "from metagpt.const import STATE_DIR\n"
        "repo = ProjectRepo(sys.argv[1], 'snake', fixed=True, staged=True)\n"
        "ProjectLock(repo.path / STATE_DIR).acquire()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    assert len(staging(tmp_path)) == 1

    live = ProjectRepo(tmp_path, "other", staged=True)  # this process is alive: its folder stays
    sweep_staging(tmp_path)
    assert staging(tmp_path) == [live.path]
