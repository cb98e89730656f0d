"""Saved state is data, never code: no reader of a journal or a saved team imports or calls what it names.

Each test plays the attacker: a project's `.metagpt/state.db` (or a `team.json`) is rewritten to
name a callable that would leave a marker file (`subprocess.run` with a shell command, or a
module in the working folder that writes the marker when imported), then the real reader runs:
`metagpt resume` in its own process, `--recover-path`, `Team.deserialize`. The marker must never
appear; the reader refuses with one line and exit code 2, and the project is left as it was.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from metagpt.exceptions import UserError
from metagpt.roles.registry import register_role, resolve_role
from metagpt.roles.spec import build_role
from tests.robustness.conftest import IDEA, invoke, spawn

PROJECT = "demo"


def interrupted_project(server, cwd: Path, roles: list[dict]) -> Path:
    """A finished run of the company, its journal rewritten as interrupted and hiring `roles`."""
    result = invoke(server, cwd / "workspace", IDEA, "--project-name", PROJECT, "--no-implement")
    assert result.exit_code == 0, result.output
    project = cwd / "workspace" / PROJECT
    with sqlite3.connect(project / ".metagpt" / "state.db") as db:
        run_id, options = db.execute("SELECT id, options FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        options = json.loads(options)
        options["roles"] = roles + options["roles"]
        db.execute("UPDATE runs SET status='interrupted', options=? WHERE id=?", (json.dumps(options), run_id))
    return project


def planted_module(cwd: Path, marker: Path) -> None:
    """`evil.py` in the working folder: importing it writes the marker (as any import side effect could)."""
    (cwd / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\nclass Reviewer:\n    def __init__(self, **kw): pass\n"
    )


def snapshot(project: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(project)): p.read_bytes()
        for p in sorted(project.rglob("*"))
        if p.is_file() and ".git" not in p.parts and "logs" not in p.parts and ".metagpt" not in p.parts
    }


@pytest.mark.parametrize(
    "named",
    [
        {"class": "subprocess.run", "fields": {"args": "touch {marker}", "shell": True}},
        {"class": "os.system", "fields": {"command": "touch {marker}"}},
        {"class": "evil.Reviewer", "fields": {}},
        {"class": "metagpt.roles.Engineer", "fields": {"__class__": "x", "name": "touch {marker}"}},
    ],
    ids=["subprocess.run", "os.system", "a module that runs on import", "an undeclared field"],
)
def test_resume_never_imports_or_calls_what_the_journal_names(server, tmp_path: Path, named: dict) -> None:
    marker = tmp_path / "pwned"
    planted_module(tmp_path, marker)
    role = json.loads(json.dumps(named).replace("{marker}", str(marker)))
    project = interrupted_project(server, tmp_path, [role])
    before = snapshot(project)
    calls = len(server.bodies)

    process = spawn(server, tmp_path, "resume", str(project), PYTHONPATH=str(tmp_path))
    _, stderr = process.communicate(timeout=120)

    text = stderr.decode(errors="replace")
    assert not marker.exists(), text
    assert process.returncode == 2, text
    assert "evil" not in sys.modules
    errors = [line for line in text.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, text
    assert "registered role" in errors[0] or "does not declare" in errors[0]
    assert len(server.bodies) == calls  # refused before any model call
    assert snapshot(project) == before


def test_recover_path_refuses_the_same_way(server, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    project = interrupted_project(
        server, tmp_path, [{"class": "subprocess.run", "fields": {"args": f"touch {marker}", "shell": True}}]
    )
    process = spawn(server, tmp_path, "--recover-path", str(project))
    _, stderr = process.communicate(timeout=120)
    assert not marker.exists()
    assert process.returncode == 2, stderr.decode()
    assert "not a registered role" in stderr.decode()


def test_a_role_of_ones_own_resumes_when_named_on_the_command_line(server, tmp_path: Path) -> None:
    (tmp_path / "my_roles.py").write_text(
        "from metagpt.roles import ProductManager\n\nclass CarefulPM(ProductManager):\n    care: int = 1\n"
    )
    project = interrupted_project(server, tmp_path, [{"class": "my_roles.CarefulPM", "fields": {"care": 3}}])
    refused = spawn(server, tmp_path, "resume", str(project), PYTHONPATH=str(tmp_path))
    _, stderr = refused.communicate(timeout=120)
    assert refused.returncode == 2
    assert "--roles my_roles:CarefulPM" in stderr.decode()

    resumed = spawn(server, tmp_path, "resume", str(project), "--roles", "my_roles:CarefulPM", PYTHONPATH=str(tmp_path))
    _, stderr = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, stderr.decode()


def test_team_deserialize_never_imports_what_the_file_names(fake_config, tmp_path: Path) -> None:
    from metagpt.team import Team
    from tests.unit.test_team import Speaker

    marker = tmp_path / "pwned"
    planted_module(tmp_path, marker)
    team = Team(investment=1.0)
    team.hire([Speaker(name="A", goal="greet")])
    team.run_project("start", send_to="A")
    path = team.serialize(tmp_path / "team")
    state = json.loads(path.read_text())
    state["messages"][0]["instruct_content"] = {"class": "evil.Model", "data": {}}
    path.write_text(json.dumps(state))
    sys.path.insert(0, str(tmp_path))
    try:
        again = Team.deserialize(tmp_path / "team")
        assert again.env.history.get()[0].instruct_content is None  # the text survives, not the class
        state["roles"][0]["spec"] = {"class": "subprocess.run", "fields": {"args": f"touch {marker}", "shell": True}}
        path.write_text(json.dumps(state))
        with pytest.raises(UserError, match="not a registered role"):
            Team.deserialize(tmp_path / "team")
    finally:
        sys.path.remove(str(tmp_path))
    assert not marker.exists() and "evil" not in sys.modules


def test_the_registry_holds_only_roles_and_checks_their_fields() -> None:
    from metagpt.roles import Architect, Role

    assert resolve_role("metagpt.roles.architect.Architect") is Architect
    assert resolve_role("__main__.Architect") is Architect  # a script's own name for a class it imported

    class Critic(Role):
        strictness: int = 1

    assert register_role(Critic) is Critic
    assert build_role({"class": f"{__name__}.{Critic.__qualname__}", "fields": {"strictness": 5}}).strictness == 5
    with pytest.raises(UserError, match="invalid"):
        build_role({"class": f"{__name__}.{Critic.__qualname__}", "fields": {"strictness": "very"}})
    with pytest.raises(UserError, match="not a Role"):
        register_role(subprocess.Popen)
    with pytest.raises(UserError, match="not a registered role"):
        resolve_role("builtins.eval")
