"""MetaGPT 0.6's `CONFIG.git_repo`: the running company's project repository, per asyncio task.

Roles of 0.6 scripts read (and set) `CONFIG.git_repo` in their actions; here it is the
`context.git_repo` of the company whose run is going on in the task, so companies running side by
side (`metagpt batch`) each see their own project, and outside a run it is None.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from metagpt.actions import Action, UserRequirement
from metagpt.config import CONFIG, Config
from metagpt.context import Context, current_context
from metagpt.incremental.company import ChangeCompany
from metagpt.legacy_config import LegacyConfig
from metagpt.project_repo import ProjectRepo
from metagpt.roles import Role
from metagpt.schema import Message
from metagpt.software_company import SoftwareCompany
from metagpt.team import Team
from metagpt.utils.git_repository import GitRepository
from tests.e2e.conftest import openai_config
from tests.e2e.openai_server import OpenAIServer, answer
from tests.incremental.scripted import calculator

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


class NoteTheRepo(Action):
    """Asks the model for notes on the idea, writes them into `CONFIG.git_repo` and commits them."""

    seen: dict[str, dict[str, Any]] | None = None
    """Where each run's action writes what it found, by idea."""
    barrier: asyncio.Barrier | None = None
    """When given, every run waits there in the middle of its action: all are then under way at once."""

    async def run(self, messages: list[Any]) -> str:
        idea = messages[-1].content
        notes = await self._aask(f"Write notes on: {idea}")
        repo = CONFIG.git_repo
        assert repo is not None, "no repository during the run"
        (repo.workdir / "notes.md").write_text(notes + "\n")
        changed = repo.changed_files
        if self.barrier is not None:
            async with asyncio.timeout(30):
                await self.barrier.wait()
        sha = repo.commit(f"Notes on {idea}")
        assert self.seen is not None
        self.seen[idea] = {
            "workdir": repo.workdir,
            "changed": changed,
            "sha": sha,
            "left": repo.changed_files,
            "after_wait": CONFIG.git_repo.workdir,
            "context": current_context(),
        }
        return notes


def note_taker(seen: dict[str, dict[str, Any]], barrier: asyncio.Barrier | None = None) -> Role:
    return Role(name="Noter", profile="Note taker", actions=[NoteTheRepo(seen=seen, barrier=barrier)])


def log(path: Path) -> list[str]:
    done = subprocess.run(["git", "log", "--format=%s"], cwd=path, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


@pytest.fixture
def notes_server(allow_model_requests: None):
    with OpenAIServer(lambda body: answer("# Notes\n- keep it small")) as server:
        yield server
    assert not server.errors


async def company_run(server: OpenAIServer, workspace: Path, idea: str, seen, barrier=None) -> SoftwareCompany:
    company = SoftwareCompany(openai_config(server.base_url, workspace_path=workspace))
    company.hire([note_taker(seen, barrier)])
    company.start_project(idea)
    try:
        await company.run(n_round=2)
    finally:
        await company.context.aclose()
    return company


def test_config_git_repo_is_none_outside_a_run_and_reads_no_configuration(fake_config, tmp_path):
    def no_loading() -> Config:
        raise AssertionError("CONFIG.git_repo loaded the configuration")

    assert LegacyConfig(no_loading).git_repo is None
    assert CONFIG.git_repo is None and CONFIG.get("git_repo") is None and current_context() is None
    context = Context(fake_config)
    context.project = ProjectRepo(tmp_path / "workspace", "snake game")
    assert context.git_repo is not None
    assert CONFIG.git_repo is None  # an open project is a company's: seen only while that company runs
    with pytest.raises(AttributeError, match="read-only"):
        CONFIG.max_budget = 10  # the settings themselves stay read-only


async def test_config_git_repo_inside_a_company_run_is_its_project(notes_server, tmp_path):
    assert CONFIG.git_repo is None  # before any project
    seen: dict[str, dict[str, Any]] = {}

    company = await company_run(notes_server, tmp_path / "workspace", "a snake game", seen)

    found = seen["a snake game"]
    assert found["workdir"] == found["after_wait"] == company.project.path
    assert found["context"] is company.context
    assert found["changed"]["notes.md"] == "U" and found["sha"]
    assert "notes.md" not in found["left"]
    assert (company.project.path / "notes.md").read_text() == "# Notes\n- keep it small\n"
    assert "Notes on a snake game" in log(company.project.path)
    assert len(notes_server.requests) == 1  # the action's model call went to the server
    assert CONFIG.git_repo is None and current_context() is None  # back to none after the run


async def test_two_concurrent_company_runs_each_see_their_own_project(notes_server, tmp_path):
    seen: dict[str, dict[str, Any]] = {}
    barrier = asyncio.Barrier(2)  # both actions are under way at once before either commits

    snake, tetris = await asyncio.gather(
        company_run(notes_server, tmp_path / "workspace", "a snake game", seen, barrier),
        company_run(notes_server, tmp_path / "workspace", "a tetris game", seen, barrier),
    )

    assert snake.project.path != tetris.project.path
    for company, idea in [(snake, "a snake game"), (tetris, "a tetris game")]:
        found = seen[idea]
        assert found["workdir"] == found["after_wait"] == company.project.path
        assert found["context"] is company.context
        assert f"Notes on {idea}" in log(company.project.path)
    assert "Notes on a tetris game" not in log(snake.project.path)
    assert CONFIG.git_repo is None


async def test_config_git_repo_can_be_set_as_metagpt_0_6_did(fake_config, tmp_path):
    """0.6's test set-up assigned `CONFIG.git_repo` outside any run; its PrepareDocuments assigned it during one."""
    mine = GitRepository(local_path=tmp_path / "unittest", auto_init=True)
    CONFIG.git_repo = mine
    try:
        assert CONFIG.git_repo is mine

        async def elsewhere() -> GitRepository | None:  # another task sets its own; ours is untouched
            CONFIG.git_repo = GitRepository(local_path=tmp_path / "other", auto_init=True)
            return CONFIG.git_repo

        assert (await asyncio.create_task(elsewhere())).workdir == tmp_path / "other"
        assert CONFIG.git_repo is mine

        seen: dict[str, Any] = {}

        class Look(Action):
            async def run(self, messages: list[Any]) -> str:
                seen.setdefault("repos", []).append(CONFIG.git_repo)
                if current_context().project is not None:
                    CONFIG.git_repo = mine  # during a run: the company's repository from now on
                return "looked"

        plain = Team(context=Context(fake_config), roles=[Role(name="A", actions=[Look()])])
        await plain.run(n_round=1, idea="look")  # a team without a project: the repository set above
        assert seen["repos"] == [mine]

        context = Context(fake_config)
        context.project = ProjectRepo(tmp_path / "workspace", "snake game")
        with_project = Team(context=context, roles=[Role(name="B", actions=[Look()])])
        await with_project.run(n_round=1, idea="look")
        assert seen["repos"][1].workdir == context.project.path  # the company's project comes first
        assert context.git_repo is mine  # set during the run: the company's
    finally:
        CONFIG.git_repo = None
    assert CONFIG.git_repo is None


async def test_a_role_running_on_its_own_makes_its_context_current(fake_config, tmp_path):
    context = Context(fake_config)
    context.project = ProjectRepo(tmp_path / "workspace", "snake game")
    seen: list[Any] = []

    class Look(Action):
        async def run(self, messages: list[Any]) -> str:
            seen.append(CONFIG.git_repo)
            return "looked"

    role = Role(name="A", actions=[Look()], context=context)
    await role.run("look")  # no team: the role's own run
    role.put_message(Message("look again", cause_by=UserRequirement))
    await role.think()
    await role.act()  # 0.6-0.7's loop step by step
    assert [repo.workdir for repo in seen] == [context.project.path] * 2
    assert CONFIG.git_repo is None and current_context() is None


async def test_config_git_repo_during_a_change_run_is_the_changed_project(monkeypatch, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    calculator(root)
    company = ChangeCompany(Config(api_type="fake", workspace_path=root.parent))
    company.hire_for_change(run_tests=False)
    company.open_project(root, "add subtraction")
    seen: list[Any] = []

    async def change() -> None:  # the change's stages, which would ask the model, replaced
        seen.append(CONFIG.git_repo.workdir)

    monkeypatch.setattr(company, "_change", change)
    try:
        await company.run()
    finally:
        await company.context.aclose()
    assert seen == [root] and CONFIG.git_repo is None
