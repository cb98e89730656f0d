"""`metagpt batch` on the asyncio backend, against the loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from metagpt.batch import run_batch
from metagpt.batch.ledger import to_micros
from tests.batch.conftest import IDEAS, MAX_TOKENS, bill, digests, kept_files, loopback_config
from tests.e2e.openai_server import OpenAIServer
from tests.e2e.test_resume import STARTUP, environ


def answered(server: OpenAIServer) -> int:
    return sum(1 for r in server.requests if r.status == 200)


def cli(server: OpenAIServer, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STARTUP), "batch", *args],
        cwd=cwd,
        env=environ(server, MAX_TOKENS=str(MAX_TOKENS)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_runs_six_ideas_two_at_a_time_and_resume_skips_the_finished(allow_model_requests, tmp_path):
    ideas = tmp_path / "ideas.txt"
    ideas.write_text(
        "# six companies\n" + "\n".join(IDEAS[:5]) + "\n" + json.dumps({"idea": IDEAS[5], "project_name": "ttt"})
    )
    with OpenAIServer() as server:
        run = cli(server, tmp_path, str(ideas), "--workers", "2", "--json", "--workspace", "out")
        assert run.returncode == 0, run.stderr[-3000:]
        report = json.loads(run.stdout)
        results = report["results"]
        assert [r["status"] for r in results] == ["done"] * 6
        assert [r["idea"] for r in results] == IDEAS
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(Path(r["project"]).name for r in results)
        assert "ttt" in {Path(r["project"]).name for r in results}
        for r in results:
            assert (Path(r["project"]) / "docs" / "prd.json").is_file() and r["calls"] > 0
        assert sum(r["cost"] for r in results) == pytest.approx(bill(server.usages))
        sent = len(server.requests)

        again = cli(server, tmp_path, str(ideas), "--workers", "2", "--workspace", "out", "--resume")
        assert again.returncode == 0, again.stderr[-3000:]
        assert again.stderr.count("] skipped") == 6
        assert len(server.requests) == sent  # nothing was asked again
        refused = cli(server, tmp_path, str(ideas), "--workspace", "out")
        assert refused.returncode == 2 and "--resume" in refused.stderr


async def test_a_total_covering_half_the_work_is_never_exceeded_and_resume_completes_it(openai_server, tmp_path):
    config = loopback_config(openai_server.base_url)
    full = await run_batch(IDEAS, workers=2, config=config, workspace=tmp_path / "full")
    assert [r.status for r in full] == ["done"] * 6
    whole, calls = bill(openai_server.usages), answered(openai_server)
    openai_server.requests.clear()

    total = whole / 2
    half = await run_batch(IDEAS, workers=2, config=config, workspace=tmp_path / "half", investment_total=total)
    spent = bill(openai_server.usages)
    assert spent <= total
    assert half.ledger is not None and spent <= half.ledger.spent_dollars <= total
    stopped = [r for r in half if r.status == "budget"]
    assert stopped and all(r.exit_code == 3 and "Total budget" in r.error for r in stopped)
    assert any(kept_files(Path(r.project)) for r in stopped)  # files kept, like a budget stop of one company
    # A company whose first call no longer fitted when its turn came made no folder.
    assert all(kept_files(Path(r.project)) if r.calls else not Path(r.project).exists() for r in stopped)
    assert sum(r.cost for r in half) == pytest.approx(spent)

    # The total is cumulative: what the first run spent counts against it, plus room for the holds.
    second = whole * 1.5
    rest = await run_batch(
        IDEAS, workers=2, config=config, workspace=tmp_path / "half", resume=True, investment_total=second
    )
    statuses = Counter(r.status for r in rest)
    assert statuses["budget"] == 0 and statuses["skipped"] == Counter(r.status for r in half)["done"]
    assert answered(openai_server) == calls  # the resumed companies paid no finished call again
    assert bill(openai_server.usages) == pytest.approx(whole) and whole <= second
    assert rest.ledger is not None and rest.ledger.before == to_micros(spent)
    # Both runs, as the journals and this run's commits say (each amount rounded up to a micro-dollar).
    assert whole <= rest.ledger.spent_dollars <= whole + calls / 1e6
    assert digests(tmp_path / "half") == digests(tmp_path / "full")


async def test_one_companys_failure_does_not_stop_the_others(openai_server, tmp_path):
    from tests.e2e.openai_server import error, realistic_reply

    def handler(body):
        if "password" in json.dumps(body):
            return error(400, "this model refuses passwords")
        return realistic_reply(body)

    openai_server.handler = handler
    results = await run_batch(IDEAS[3:], workers=3, config=loopback_config(openai_server.base_url), workspace=tmp_path)
    assert [r.status for r in results] == ["done", "failed", "done"]
    assert results[1].exit_code == 4 and "refuses passwords" in results[1].error
    assert os.path.isdir(results[1].project)
