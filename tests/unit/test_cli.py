"""The `metagpt` command on the fake model: summary on success, one-line errors with exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from loguru import logger
from typer.testing import CliRunner

import metagpt.provider
from metagpt.actions import PRD
from metagpt.cli import app
from metagpt.provider.fake import FakeProvider

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner(monkeypatch, tmp_path) -> CliRunner:
    monkeypatch.setenv("API_TYPE", "fake")
    monkeypatch.setenv("WORKSPACE_PATH", str(tmp_path / "ws"))
    yield CliRunner()
    # The CLI reconfigures loguru for the process (console sink, run log file); restore the default.
    logger.remove()
    logger.add(sys.stderr)


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def test_run_writes_the_project_and_prints_the_summary(runner, tmp_path):
    result = runner.invoke(app, ["a command-line snake game", "--investment", "1.5"])

    assert result.exit_code == 0, result.output
    project = tmp_path / "ws" / "cli_snake_game"
    lines = result.output.splitlines()
    assert f"Project: {project}" in lines
    written = sorted(
        str(p.relative_to(project))
        for p in project.rglob("*")
        if p.is_file()
        and p.parent.name != "logs"
        and p.relative_to(project).parts[0] not in (".git", ".gitignore", ".metagpt")
    )
    start = lines.index(f"Files written ({len(written)}):")
    assert sorted(line.strip() for line in lines[start + 1 : start + 1 + len(written)]) == written
    assert lines[start + 1 + len(written)].startswith("Spent ")
    assert "Spent $0.0000 of $1.5000 (" in result.output
    assert any(line.startswith("  Engineer: $0.0000") for line in lines)
    assert "Time: " in result.output
    PRD.model_validate_json((project / "docs" / "prd.json").read_text())
    assert (project / "requirements.txt").exists()
    assert (project / "logs" / "metagpt.log").read_text()
    assert "Traceback" not in result.output


def test_no_implement_and_project_name(runner, tmp_path):
    result = runner.invoke(app, ["a snake game", "--no-implement", "--project-name", "My Snake"])

    assert result.exit_code == 0, result.output
    project = tmp_path / "ws" / "my_snake"  # a chosen name is kept, not replaced by the package name
    assert f"Project: {project}" in result.output
    assert sorted(p.name for p in (project / "docs").iterdir()) == [
        "api_spec_and_tasks.json",
        "api_spec_and_tasks.md",
        "prd.json",
        "prd.md",
        "system_design.json",
        "system_design.md",
    ]
    assert not (project / "cli_snake_game").exists()  # no Engineer, no code


@pytest.mark.parametrize("idea", ["", "   "])
def test_empty_idea_exits_2_with_one_error_line(runner, tmp_path, idea):
    result = runner.invoke(app, [idea])

    assert result.exit_code == 2
    assert error_lines(result.output) == [
        "Error: The idea is empty: describe what to build, e.g. 'a command-line snake game'."
    ]
    assert "Traceback" not in result.output
    assert not (tmp_path / "ws").exists() or list((tmp_path / "ws").iterdir()) == []


@pytest.mark.parametrize("change", [False, True], ids=["run", "change"])
def test_an_empty_idea_is_refused_before_a_model_is_chosen_or_started(tmp_path, change):
    import subprocess

    from tests.environ import settings_free_environ

    command = [sys.executable, str(REPO_ROOT / "startup.py"), " "]
    if change:
        command += ["--inc", "--project-path", str(tmp_path / "ws" / "calculator")]
    env = {**settings_free_environ(), "WORKSPACE_PATH": str(tmp_path / "ws")}  # no key: the embedded model
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: The idea is empty: describe what to build, e.g. 'a command-line snake game'."
    ]  # no notice about the embedded model, which was never loaded
    assert not (tmp_path / "ws").exists()


def test_bad_config_value_exits_2_naming_the_file_and_key(runner, tmp_path):
    key_file = Path(tmp_path) / "config" / "key.yaml"
    key_file.parent.mkdir()
    key_file.write_text("MAX_TOKENS: -1\n")

    result = runner.invoke(app, ["a snake game"])

    assert result.exit_code == 2
    assert error_lines(result.output) == [f"Error: {key_file}: MAX_TOKENS: Input should be greater than 0 (got -1)."]
    assert "Traceback" not in result.output
    assert not (tmp_path / "ws").exists()


def test_unknown_config_key_exits_2(runner, tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("OPENAI_KEY: sk-abc\n")

    result = runner.invoke(app, ["a snake game"])

    assert result.exit_code == 2
    assert len(error_lines(result.output)) == 1
    assert "unknown key 'OPENAI_KEY'" in result.output


@pytest.mark.parametrize("investment", ["0", "-1"])
def test_non_positive_investment_exits_2(runner, investment):
    result = runner.invoke(app, ["a snake game", "--investment", investment])

    assert result.exit_code == 2
    assert error_lines(result.output) == [f"Error: Investment must be positive, got {float(investment)}."]


class PricedFake(FakeProvider):
    """The fake model, priced as gpt-4o."""

    priced = True

    def __init__(self):
        super().__init__(model="gpt-4o")


def test_budget_too_small_for_a_priced_model_stops_with_exit_3(runner, monkeypatch, tmp_path):
    """The first call's worst case exceeds a tiny investment: the run stops before sending it."""
    monkeypatch.setattr(metagpt.provider, "create_provider", lambda config: PricedFake())

    result = runner.invoke(app, ["a snake game", "--investment", "0.001"])

    assert result.exit_code == 3, result.output
    assert "Stopped: Budget exhausted: spent $0.0000 of $0.0010" in result.output
    assert "Spent $0.0000 of $0.0010 (0 prompt + 0 completion tokens, 0 calls)" in result.output
    assert "Traceback" not in result.output
    assert len(list((tmp_path / "ws").iterdir())) == 1  # the project folder stays, with what was written


def test_setup_py_packages_the_cli_and_every_subpackage():
    from setuptools import find_packages

    packages = set(find_packages(where=str(REPO_ROOT), include=["metagpt", "metagpt.*"]))

    assert {"metagpt", "metagpt.actions", "metagpt.memory", "metagpt.prompts", "metagpt.provider"} <= packages
    assert {"metagpt.roles", "metagpt.utils"} <= packages


def test_setup_py_ships_the_py_typed_marker():
    """PEP 561: without `metagpt/py.typed` in the wheel a user's type checker ignores the package's annotations."""
    from distutils.core import run_setup  # setuptools' own copy

    distribution = run_setup(str(REPO_ROOT / "setup.py"), stop_after="init")

    assert "py.typed" in distribution.package_data["metagpt"]
    assert (REPO_ROOT / "metagpt" / "py.typed").is_file()


def test_the_help_names_every_subcommand_and_each_has_its_own_help(tmp_path):
    import subprocess

    from metagpt.cli import SUBCOMMANDS

    def help_of(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(REPO_ROOT / "startup.py"), *args]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)

    main = help_of("--help")
    assert main.returncode == 0, main.stderr
    commands = main.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    listed = [line.split()[0] for line in commands.splitlines()]
    assert listed == ["run", *listed[1:]] and "[default]" in commands.splitlines()[0]
    assert sorted(listed[1:]) == sorted(SUBCOMMANDS)
    assert "--investment" in main.stdout and "--n-round" in main.stdout  # the run's options, as before
    for name in SUBCOMMANDS:
        own = help_of(name, "list", "--help") if name == "experience" else help_of(name, "--help")
        assert own.returncode == 0 and f"Usage: startup.py {name}" in own.stdout, (name, own.stdout, own.stderr)
    version = help_of("--version")
    assert version.returncode == 0 and version.stdout.startswith("metagpt 0.")


def test_a_bad_option_value_is_one_line_and_exit_2(tmp_path):
    import subprocess

    command = [sys.executable, str(REPO_ROOT / "startup.py"), "a snake game", "--investment", "abc"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 2
    assert done.stderr.startswith("Error: Invalid value for '--investment'") and done.stderr.count("\n") == 1
    assert not (tmp_path / "workspace").exists()


def test_an_unknown_experience_command_is_one_line(tmp_path):
    import subprocess

    command = [sys.executable, str(REPO_ROOT / "startup.py"), "experience", "frobnicate"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "'frobnicate'" in done.stderr


def test_an_aborted_command_prints_one_line_and_exits_130(capsys):
    """`typer.Abort` (Ctrl-C or end of input at a prompt) ends the command with "Aborted.", not a traceback."""
    import typer

    from metagpt.cli.groups import TYPER_SETTINGS, DefaultGroup

    group_app = typer.Typer(cls=DefaultGroup, **TYPER_SETTINGS)

    @group_app.command()
    def ask() -> None:
        raise typer.Abort()

    @group_app.command()
    def other() -> None:  # pragma: no cover - a second command makes `ask` a subcommand
        pass

    with pytest.raises(SystemExit) as exited:
        typer.main.get_command(group_app).main(["ask"], prog_name="metagpt")

    assert exited.value.code == 130
    assert capsys.readouterr().err == "Aborted.\n"
