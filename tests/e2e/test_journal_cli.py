"""`metagpt logs` over real runs of the CLI, and the journal keeping no secret."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.openai_server import RETRY_NOW, OpenAIServer, error
from tests.e2e.test_resume import IDEA, dollars, environ, metagpt, project_of, reply


def spent_line(stderr: str) -> str:
    match = re.search(r"Spent \$(\d+\.\d{4}) of", stderr)
    assert match, stderr[-2000:]
    return match.group(1)


def logs(server: OpenAIServer, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = metagpt(server, cwd, "logs", *args)
    assert result.returncode == 0, result.stderr
    return result


def test_logs_and_summary_agree_with_spent_and_the_server_bill_with_retries(allow_model_requests, tmp_path):
    with OpenAIServer(reply) as server:
        server.plan(reply, error(500, "overloaded", headers=RETRY_NOW), error(429, "slow down", headers=RETRY_NOW))
        run = metagpt(server, tmp_path, IDEA)
        assert run.returncode == 0, run.stderr[-3000:]
        project = project_of(tmp_path)
        bill = sum(dollars(u) for u in server.usages)

        report = json.loads(logs(server, tmp_path, "summary", str(project), "--json").stdout)
        listed = logs(server, tmp_path, str(project), "-n", "0").stdout.splitlines()
        errors = logs(server, tmp_path, str(project), "--status", "error", "--json").stdout
        first_id = re.match(r"#(\d+) ", listed[0]).group(1)
        shown = logs(server, tmp_path, "show", first_id, str(project)).stdout

    total = report["total"]
    assert f"{total['cost']:.4f}" == spent_line(run.stderr) == f"{bill:.4f}"
    assert total["cost"] == pytest.approx(bill, rel=1e-9)
    assert (total["calls"], total["errors"], total["retries"]) == (len(server.requests), 2, 2)
    assert len(listed) == len(server.requests) == 11
    assert [(e["role"], e["status"], e["attempt"]) for e in json.loads(errors)] == [
        ("Architect", "error", 1),
        ("Architect", "error", 2),
    ]
    assert "Architect" in listed[1] and "WriteDesign" in listed[1] and "error (attempt 1)" not in listed[0]
    assert any("WriteCode[" in line for line in listed)  # the Engineer's calls name their file
    assert "--- system ---" in shown and "--- response ---" in shown
    assert re.search(r"^started_at: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", shown, re.M)  # a time, not epoch seconds
    engineer = [g for g in report["groups"] if g["role"] == "Engineer"]
    assert sum(g["calls"] for g in engineer) == 6
    assert all(g["p50_ms"] is not None for g in report["groups"])


def test_summary_after_a_budget_stop_equals_spent(allow_model_requests, tmp_path):
    with OpenAIServer(reply) as server:
        run = metagpt(server, tmp_path, IDEA, "--investment", "0.0009", MAX_TOKENS="400")
        assert run.returncode == 3, run.stderr[-3000:]
        project = project_of(tmp_path)
        report = json.loads(logs(server, tmp_path, "summary", str(project), "--json").stdout)

    assert 0 < len(server.requests) < 9
    assert f"{report['total']['cost']:.4f}" == spent_line(run.stderr)
    assert report["total"]["cost"] == pytest.approx(sum(dollars(u) for u in server.usages), rel=1e-9)
    assert report["total"]["cost"] <= 0.0009


def test_logs_without_a_project_says_what_to_run(allow_model_requests, tmp_path):
    with OpenAIServer(reply) as server:
        result = metagpt(server, tmp_path, "logs")
        show = metagpt(server, tmp_path, "logs", "show", "7", str(tmp_path))

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f'Error: No project with a journal in {tmp_path / "workspace"}; run one first: metagpt "a snake game"'
    ]
    assert show.returncode == 2 and "No journal at" in show.stderr


def test_a_canary_key_in_the_key_and_the_url_is_stored_nowhere(allow_model_requests, tmp_path):
    canary = "sk-canary" + secrets.token_hex(16)
    with OpenAIServer(reply) as server:
        server.chat_path = f"/{canary}/v1/chat/completions"
        env = environ(server)
        env.update(OPENAI_API_KEY=canary, OPENAI_BASE_URL=f"{server.base_url.rsplit('/v1', 1)[0]}/{canary}/v1")
        run = subprocess.run(
            [sys.executable, str(Path(__file__).resolve().parents[2] / "startup.py"), IDEA, "-v"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        assert len(server.requests) == 9
        project = project_of(tmp_path)
        listed = subprocess.run(
            [sys.executable, str(Path(__file__).resolve().parents[2] / "startup.py"), "logs", str(project), "--json"],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    needle = canary.encode()
    assert needle not in (run.stdout + run.stderr + listed).encode()
    for path in project.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), path
    db = sqlite3.connect(project / ".metagpt" / "state.db")
    base_urls = {row[0] for row in db.execute("SELECT base_url FROM calls")}
    assert base_urls and all(canary not in url and "***" in url for url in base_urls)
    objects = subprocess.run(
        ["git", "-C", str(project), "cat-file", "--batch-all-objects", "--batch"], capture_output=True, check=True
    ).stdout
    assert objects and needle not in objects
