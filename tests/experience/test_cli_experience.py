"""`--experience` and `metagpt experience ...` as a user runs them: real processes, the real openai SDK
against the loopback server, real pytest for QA."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.openai_server import OpenAIServer, requested_code_file
from tests.environ import settings_free_environ

ROOT = Path(__file__).resolve().parents[2]
CLI = "from metagpt.cli import main; main()"


def metagpt(server: OpenAIServer, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = settings_free_environ()
    environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-test", OPENAI_API_MODEL="gpt-4o-mini",
                   PYTHONPATH=str(ROOT), MERMAID_ENGINE="none", **env)  # fmt: skip
    return subprocess.run([sys.executable, "-c", CLI, *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=180, check=False)  # fmt: skip


def code_requests(server: OpenAIServer, start: int = 0) -> list[str]:
    return [f for f in (requested_code_file(b) for b in server.bodies[start:]) if f]


def test_experience_flag_reuses_confirmed_code_and_the_subcommands_manage_the_pool(server, tmp_path):
    first = metagpt(server, tmp_path, "a command-line snake game", "--run-tests", "--experience")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Tests: passed" in first.stderr
    written = sorted(code_requests(server))
    assert written

    listed = metagpt(server, tmp_path, "experience", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    assert sorted(r["task"].splitlines()[0] for r in records) == sorted(f"Write {f}" for f in written)
    assert all(r["outcome"].startswith("QA ") and r["family"] == "gpt-4o-mini" for r in records)

    seen = len(server.bodies)
    second = metagpt(server, tmp_path, "a command-line snake game, in colour", "--run-tests", "--experience")
    assert second.returncode == 0, second.stderr[-3000:]
    assert code_requests(server, seen) == []  # every file was an exact repeat of a confirmed step
    assert "Tests: passed" in second.stderr  # and QA still ran the tests
    assert len(server.bodies) - seen < seen

    seen = len(server.bodies)
    off = metagpt(server, tmp_path, "a command-line snake game, again", "--run-tests", "--no-experience",
                  EXP_POOL_ENABLED="true")  # fmt: skip
    assert off.returncode == 0, off.stderr[-3000:]
    assert sorted(code_requests(server, seen)) == written

    shown = metagpt(server, tmp_path, "experience", "show", records[0]["key"][:10])
    assert shown.returncode == 0 and f"key: {records[0]['key']}" in shown.stdout

    rebuilt = metagpt(server, tmp_path, "experience", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    # the two runs with the pool on signed what they stored (the second re-confirmed the reused
    # files); the run with it off left no signed evidence, so its passing QA report counts for nothing
    assert "from 2 project(s) whose tests passed" in rebuilt.stdout
    assert "Skipped 1 project(s) and 0 record(s): not confirmed by a check" in rebuilt.stdout
    again = json.loads(metagpt(server, tmp_path, "experience", "list", "--json").stdout)
    assert {r["key"] for r in again} == {r["key"] for r in records}  # the same steps, from the evidence
    assert all(r["cost"]["calls"] >= 1 and r["confirmations"] == 2 for r in again)

    cleared = metagpt(server, tmp_path, "experience", "clear", "--yes")
    assert cleared.returncode == 0 and f"Removed {len(records)} record(s)" in cleared.stdout
    empty = metagpt(server, tmp_path, "experience", "list")
    assert "is empty" in empty.stdout
