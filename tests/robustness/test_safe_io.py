"""Every file of a project folder is opened without following links: a list of every open proves it.

Code the company runs can replace any file of the project folder with a link or a FIFO, so every
open of a path there must go through the link-safe helpers (`utils/safe_read`, `utils/atomic`),
which pass `O_NOFOLLOW` (and `O_NONBLOCK` for reads). A Python audit hook records every `open`
the process makes while a company, the agent and the interpreter run, in this process, over one
temporary folder; the test fails on any open of a file there without `O_NOFOLLOW`, naming the
line of MetaGPT that made it. Folders may be opened as folders (`O_DIRECTORY`, to list or sync
them), and by `shutil.rmtree`, which checks each one it opens against its `lstat`.
"""

from __future__ import annotations

import os
import shutil
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from metagpt.config import Config
from metagpt.context import Context
from metagpt.provider.fake import FakeProvider
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager, QaEngineer, RoleZero
from metagpt.software_company import SoftwareCompany
from tests.agent.conftest import answer
from tests.calculator import BUGGY, FIXED, scripted

_watched: list[tuple[str, list[str]]] = []
"""(folder, unsafe opens found) of the running `opens_under`; the hook is installed once, for good."""


def _hook(event: str, args: tuple) -> None:
    if event != "open" or not _watched:
        return
    path, mode, flags = args
    if not isinstance(path, str | bytes | os.PathLike) or flags & os.O_DIRECTORY or flags & os.O_NOFOLLOW:
        return
    name = os.fsdecode(path)
    for folder, found in _watched:
        if name.startswith(folder):
            stack = list(reversed(traceback.StackSummary.extract(traceback.walk_stack(None), lookup_lines=False)))
            if any(f.name == "rmtree" and f.filename.endswith("shutil.py") for f in stack):
                return  # rmtree opens each folder by fd and checks it against its lstat: it never follows a link
            frames = [f for f in stack if "/metagpt/" in f.filename]
            where = f"{frames[-1].filename.split('/metagpt/')[-1]}:{frames[-1].lineno}" if frames else "?"
            found.append(f"{name[len(folder) :]} ({mode or hex(flags)}) at {where}")


sys.addaudithook(_hook)


@contextmanager
def opens_under(folder: Path) -> Iterator[list[str]]:
    found: list[str] = []
    _watched.append((str(folder), found))
    try:
        yield found
    finally:
        _watched.clear()


async def test_a_company_run_opens_every_project_file_link_safely(tmp_path: Path) -> None:
    config = Config(api_type="fake", workspace_path=tmp_path / "ws")
    team = SoftwareCompany(context=Context(config, provider=FakeProvider([scripted([BUGGY, FIXED])] * 30)))
    team.hire([ProductManager(), Architect(), ProjectManager(), Engineer(), QaEngineer()])
    team.start_project("a calculator")

    with opens_under(tmp_path / "ws") as unsafe:
        await team.run(n_round=15)

    assert team.qa_report.final.startswith("passed"), team.qa_report.final
    assert (team.project.path / "index.html").exists()
    assert unsafe == [], "\n".join(unsafe)


async def test_the_agent_and_its_kernel_open_every_project_file_link_safely(tmp_path: Path) -> None:
    pytest.importorskip("ipykernel")
    workspace = Path(os.environ.get("TMPDIR", "/tmp")) / f"io{os.getpid()}"  # Unix socket paths are short
    script = [
        answer(("Editor.write", {"path": "hello.py", "content": "print('hello')\n"})),
        answer(("Terminal.run", {"command": "python hello.py"})),
        answer(("Python.run", {"code": "print(6 * 7)"})),
        answer(("Editor.read", {"path": "hello.py"})),
        answer(("finish", {"reason": "done"})),
    ]
    context = Context(Config(api_type="fake", workspace_path=workspace), provider=FakeProvider(script))
    agent = RoleZero(context=context, max_steps=10)
    try:
        with opens_under(workspace) as unsafe:
            await agent.run("say hello")
            await context.aclose()
        assert agent.outcome.stop_reason.value == "finished", agent.outcome
        assert unsafe == [], "\n".join(unsafe)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


async def test_the_interpreter_opens_every_project_file_link_safely() -> None:
    pytest.importorskip("ipykernel")
    from metagpt.roles import DataInterpreter
    from tests.interpreter.conftest import code, plan

    workspace = Path(os.environ.get("TMPDIR", "/tmp")) / f"di{os.getpid()}"
    answers = [plan(("1", [], "print a number")), code("print(6 * 7)")]
    context = Context(Config(api_type="fake", workspace_path=workspace), provider=FakeProvider(answers))
    interpreter = DataInterpreter(context=context)
    try:
        with opens_under(workspace) as unsafe:
            message = await interpreter.run("print a number")
            await context.aclose()
        assert message.content == "42" and (interpreter.workdir / "notebook.ipynb").exists()
        assert unsafe == [], "\n".join(unsafe)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
