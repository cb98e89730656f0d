"""The JSON API and the event stream of `metagpt serve`, over real runs of the CLI."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from metagpt.journal import Journal
from tests.incremental.scripted import calculator, change_handler
from tests.web.conftest import serving, slow, start_serve

IDEA = "a command-line snake game"


def journal_calls(db_path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return db.execute("SELECT id, role, status FROM calls ORDER BY ended_at, id").fetchall()


def git_log(project) -> list[str]:
    out = subprocess.run(["git", "-C", str(project), "log", "--reverse", "--format=%H"], capture_output=True, text=True)
    return out.stdout.split()


def test_a_run_started_over_the_api_is_listed_streamed_and_read(serve):
    started = serve.post("/api/runs", {"idea": IDEA, "investment": 1.5, "project_name": "snake"})
    assert (started.status, started.json) == (201, {"project": "snake"})
    live = serve.events("snake")
    done = live[-1]
    assert done.kind == "done" and done.data["status"] == "finished"

    listed = serve.get("/api/projects")
    assert listed.status == 200
    [project] = listed.json
    assert {k: project[k] for k in ("name", "idea", "status", "investment")} == {
        "name": "snake",
        "idea": IDEA,
        "status": "finished",
        "investment": 1.5,
    }
    assert 0 < project["spent"] <= 1.5 and project["updated_at"] > time.time() - 300

    detail = serve.get("/api/projects/snake").json
    assert "docs/prd.md" in detail["files"] and not any(
        f.startswith((".git/", ".metagpt/", "logs/")) for f in detail["files"]
    )
    assert detail["documents"][:3] == ["docs/prd.md", "docs/system_design.md", "docs/api_spec_and_tasks.md"]
    root = serve.workspace / "snake"
    assert detail["calls"]["count"] == len(journal_calls(root / ".metagpt/state.db")) > 5
    prd = serve.get("/api/projects/snake/files/docs/prd.md")
    assert prd.status == 200 and prd.text == (root / "docs/prd.md").read_text()
    assert prd.headers["content-type"].startswith("text/plain") and prd.headers["x-content-type-options"] == "nosniff"

    # every journal step arrived, in the order the journal and the history hold them
    calls = [s.data["id"] for s in live if s.kind == "call"]
    assert calls == [row[0] for row in journal_calls(root / ".metagpt/state.db")]
    assert [s.data["sha"] for s in live if s.kind == "commit"] == git_log(root)
    stages = [(s.data["role"], s.data["action"]) for s in live if s.kind == "stage"]
    assert stages[:3] == [
        ("Product Manager", "WritePRD"),
        ("Architect", "WriteDesign"),
        ("Project Manager", "WriteTasks"),
    ]
    assert ("Product Manager", "WritePRD") in [
        (s.data["role"], s.data["cause_by"]) for s in live if s.kind == "message"
    ]
    assert {"docs/prd.md", "requirements.txt"} <= {s.data["path"] for s in live if s.kind == "file"}

    # a reconnect with Last-Event-ID gets exactly the rest, from any step
    steps = [s for s in live if s.id is not None]
    replay = serve.events("snake")
    assert [(s.kind, s.id, s.data) for s in replay if s.id] == [(s.kind, s.id, s.data) for s in steps]
    for cut in (0, len(steps) // 3, len(steps) - 2, len(steps) - 1):
        rest = serve.events("snake", last_id=steps[cut].id)
        assert [(s.kind, s.id) for s in rest if s.id] == [(s.kind, s.id) for s in steps[cut + 1 :]]
        assert rest[-1].kind == "done"


def test_status_codes_of_the_api(serve):
    assert serve.get("/api/projects").json == []
    assert serve.get("/api/projects/missing").status == 404
    assert serve.get("/api/projects/missing/events").status == 404
    assert serve.get("/api/projects/Not-A-Name").status == 404
    assert serve.get("/api/projects/missing/files/x.py").status == 404
    assert serve.post("/api/projects/missing/stop").status == 404
    assert serve.post("/api/projects/missing/resume").status == 404
    assert serve.post("/api/projects/missing/changes", {"request": "x"}).status == 404
    assert serve.post("/api/runs", {}).status == 400
    assert serve.post("/api/runs", {"idea": "  "}).status == 400
    assert serve.post("/api/runs", {"idea": IDEA, "investment": -1}).status == 400
    assert serve.post("/api/runs", {"idea": IDEA, "n_round": 0}).status == 400
    assert serve.post("/api/runs", {"idea": IDEA, "run_tests": "yes"}).status == 400
    assert serve.request("POST", "/api/runs", raw=b"idea=x", headers={"Content-Type": "text/plain"}).status == 415
    assert (
        serve.request("POST", "/api/runs", raw=b"{not json", headers={"Content-Type": "application/json"}).status == 400
    )
    assert serve.post("/api/runs", {"idea": "a game\u0000"}).status == 400
    assert serve.post("/api/runs", {"idea": "a game \ud800"}).status == 400
    assert serve.get("/api/runs").status == 405
    assert serve.get("/nowhere").status == 404


def test_stop_and_resume(tmp_path, model):
    model.handler = slow(0.4)
    with serving(tmp_path, model) as serve:
        name = serve.post("/api/runs", {"idea": IDEA}).json["project"]
        assert name == "command_line_snake_game"
        seen = serve.events(name, until=lambda steps: sum(s.kind == "call" for s in steps) >= 2)
        assert serve.get(f"/api/projects/{name}").json["status"] == "running"
        assert serve.post(f"/api/projects/{name}/resume").status == 409  # running: stop first
        assert serve.post(f"/api/projects/{name}/stop").status == 202
        assert serve.wait_done(name)["status"] == "interrupted"
        assert serve.post(f"/api/projects/{name}/stop").status == 409

        model.handler = slow(0.0)
        assert serve.post(f"/api/projects/{name}/resume", {"investment": 2.0}).status == 202
        assert serve.wait_done(name)["status"] == "finished"
        project = serve.get(f"/api/projects/{name}").json
        assert project["investment"] == 2.0
        assert next(s.kind for s in seen if s.id) == "stage"


def test_a_change_runs_the_cli_inc_on_the_project(tmp_path, model):
    root = tmp_path / "workspace" / "calculator"
    base = calculator(root)
    journal = Journal(root / ".metagpt/state.db")  # as the run that made the project left it
    journal.start_run("a calculator", {}, 3.0)
    journal.end_run("finished")
    journal.close()
    model.handler = change_handler()
    with serving(tmp_path, model, EDIT_FORMAT="diff") as serve:
        assert serve.post("/api/projects/calculator/changes", {}).status == 400
        assert serve.post("/api/projects/calculator/changes", {"request": "add subtraction"}).status == 202
        assert serve.post("/api/projects/calculator/changes", {"request": "again"}).status == 409  # running
        done = serve.wait_done("calculator")
        assert done["status"] == "finished", done
        commits = git_log(root)
        assert commits[0] == base and len(commits) > 1
        page = serve.get(f"/projects/calculator/commits/{commits[-1]}")
        assert page.status == 200 and "diff --git" in page.text
        shown = serve.get("/api/projects/calculator/files/calculator/calc.py").text
        assert "def subtract" in shown


def test_a_server_restart_mid_run_shows_the_run_as_it_is(tmp_path, model):
    model.handler = slow(0.4)
    with serving(tmp_path, model) as first:
        name = first.post("/api/runs", {"idea": IDEA, "project_name": "restart"}).json["project"]
        first.events(name, until=lambda steps: any(s.kind == "call" for s in steps))
        first.stop(signal.SIGKILL)  # the server dies; its run goes on in its own session
        env = {k: v for k, v in os.environ.items()}
        second = start_serve(first.workspace, {**env, **_model_env(model)})
        try:
            assert second.get(f"/api/projects/{name}").json["status"] == "running"
            with sqlite3.connect(f"file:{first.workspace / name / '.metagpt/state.db'}?mode=ro", uri=True) as db:
                [(pid,)] = db.execute("SELECT pid FROM runs").fetchall()
            os.killpg(pid, signal.SIGKILL)  # the run dies without a word
            deadline = time.monotonic() + 10
            while second.get(f"/api/projects/{name}").json["status"] == "running" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert second.get(f"/api/projects/{name}").json["status"] == "interrupted"
            assert second.wait_done(name)["status"] == "interrupted"
            model.handler = slow(0.0)
            assert second.post(f"/api/projects/{name}/resume").status == 202
            assert second.wait_done(name)["status"] == "finished"
        finally:
            second.stop()


def _model_env(model) -> dict[str, str]:
    from tests.e2e.test_resume import environ

    return environ(model)


def test_max_runs_queues_the_rest_and_the_budget_status(tmp_path, model):
    model.handler = slow(0.2)
    with serving(tmp_path, model, "--max-runs", "1", MAX_TOKENS="400") as serve:
        poor = serve.post("/api/runs", {"idea": IDEA, "investment": 0.0009, "project_name": "poor"}).json["project"]
        rich = serve.post("/api/runs", {"idea": IDEA, "project_name": "rich"}).json["project"]
        waiting = {p["name"]: p for p in serve.get("/api/projects").json}[rich]
        assert (waiting["status"], waiting["queued"]) == ("running", True)
        assert not (serve.workspace / rich).exists()
        assert serve.wait_done(poor)["status"] == "budget"
        assert serve.wait_done(rich)["status"] == "finished"
        statuses = {p["name"]: (p["status"], p["queued"]) for p in serve.get("/api/projects").json}
        assert statuses == {poor: ("budget", False), rich: ("finished", False)}


def test_a_queued_run_stops_and_a_run_failing_at_once_says_why(tmp_path, model):
    with serving(tmp_path, model, "--max-runs", "1", ENGINEER_CONCURRENCY="many") as serve:
        first = serve.post("/api/runs", {"idea": IDEA, "project_name": "first"}).json["project"]
        second = serve.post("/api/runs", {"idea": IDEA, "project_name": "second"}).json["project"]
        assert serve.post(f"/api/projects/{second}/stop").status == 202
        stopped = serve.wait_done(second)
        assert (stopped["status"], stopped["stop_reason"]) == ("interrupted", "stopped before it started")
        failed = serve.wait_done(first)
        assert failed["status"] == "failed" and "ENGINEER_CONCURRENCY" in failed["stop_reason"], failed
        assert {p["name"]: p["status"] for p in serve.get("/api/projects").json} == {
            first: "failed",
            second: "interrupted",
        }
        assert model.requests == []


def test_a_run_started_in_the_terminal_is_seen_and_stopped(tmp_path, model):
    from tests.e2e.test_resume import STARTUP, environ

    model.handler = slow(0.4)
    with serving(tmp_path, model) as serve:
        terminal = subprocess.Popen(
            [sys.executable, str(STARTUP), IDEA, "--project-name", "terminal"], cwd=tmp_path,
            env=environ(model), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while serve.get("/api/projects/terminal").status == 404 and time.monotonic() < deadline:
                time.sleep(0.1)
            serve.events("terminal", until=lambda steps: any(s.kind == "call" for s in steps))
            assert serve.get("/api/projects/terminal").json["status"] == "running"
            assert serve.post("/api/projects/terminal/stop").status == 202
            assert serve.wait_done("terminal")["status"] == "interrupted"
            assert terminal.wait(30) == 128 + signal.SIGTERM
            assert "Interrupted by SIGTERM." in terminal.stderr.read()
        finally:
            terminal.kill()
