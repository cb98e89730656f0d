"""Crash anywhere, resume, and get the same project without paying twice.

The real CLI runs against the loopback server and kills itself with SIGKILL at the k-th pass of
a crash point (`METAGPT_CRASH_AT`, see `metagpt.utils.faults`), or is killed from outside at a
seeded random time; `metagpt resume` then runs until the project is complete. Every case must
end with the uninterrupted run's files, the server having seen no finished call twice.

A seeded sample runs always; `RUN_SLOW=1` runs every k of every point.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metagpt.cost_manager import TOKEN_PRICES
from metagpt.project_repo import STAGING_MARK
from metagpt.utils.faults import POINTS
from tests.e2e.conftest import API_KEY, MODEL
from tests.e2e.openai_server import OpenAIServer, answer, realistic_reply, requested_document, sample_document
from tests.environ import settings_free_environ

STARTUP = Path(__file__).resolve().parents[2] / "startup.py"
IDEA = "a command-line snake game"
SEED = int(os.environ.get("RESUME_SEED", "20261201"))
SLOW = os.environ.get("RUN_SLOW") == "1"


def reply(body):
    from metagpt.actions import Tasks

    if requested_document(body) is Tasks:
        return answer(json.dumps({**sample_document(Tasks), "required_python_third_party_packages": ["rich==13.7.1"]}))
    return realistic_reply(body)


def dollars(usage: dict[str, int]) -> float:
    price = TOKEN_PRICES[MODEL]
    return (usage["prompt_tokens"] * price.prompt + usage["completion_tokens"] * price.completion) / 1_000_000


def environ(server: OpenAIServer, **extra: str) -> dict[str, str]:
    env = settings_free_environ()
    env.pop("METAGPT_CRASH_AT", None)
    env.update(
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY=API_KEY,
        OPENAI_API_MODEL=MODEL,
        ENGINEER_CONCURRENCY="1",  # one call at a time: at most one answer is in flight when killed
        MERMAID_ENGINE="none",
        **extra,
    )
    return env


def metagpt(server: OpenAIServer, cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STARTUP), *args],
        cwd=cwd,
        env=environ(server, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def projects_in(cwd: Path) -> list[Path]:
    """The named project folders in the workspace (not a hidden folder still being set up)."""
    workspace = cwd / "workspace"
    if not workspace.is_dir():
        return []
    return [p for p in workspace.iterdir() if p.is_dir() and STAGING_MARK not in p.name]


def project_of(cwd: Path) -> Path:
    [project] = projects_in(cwd)
    return project


def resume_until_done(server: OpenAIServer, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = metagpt(server, cwd, "resume", str(project_of(cwd)))
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def tree_digest(project: Path) -> str:
    """A digest of the documents, diagrams' sources, requirements and code (not logs, state or git)."""
    digest = hashlib.sha256()
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if relative.parts[0] in (".git", ".metagpt", "logs") or not path.is_file():
            continue
        if path.name in ("index.html",):  # the report quotes the run's times and spend
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def git_tree(project: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(project), "rev-parse", "HEAD:docs"], capture_output=True, text=True, check=True
    ).stdout.strip()


def commit_files(project: Path) -> list[tuple[str, set[str]]]:
    """(subject, files it changed) of every commit, oldest first."""
    log = subprocess.run(
        ["git", "-C", str(project), "log", "--reverse", "--name-only", "--format=%x00%s"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    commits = []
    for entry in log.split("\0")[1:]:
        subject, *files = entry.strip().splitlines()
        commits.append((subject, {f for f in files if f}))
    return commits


def assert_labelled_by_their_files(project: Path, baseline: dict) -> None:
    """Each commit of a resumed history holds only files its stage wrote in the uninterrupted run,
    but the one that records what the killed run left uncommitted."""
    stages: dict[str, set[str]] = {}
    for subject, files in baseline["commit_files"]:
        stages.setdefault(subject, set()).update(files)
    for subject, files in commit_files(project):
        if subject.startswith("Resumed: "):
            continue
        assert subject in stages, subject
        assert files <= stages[subject], f"{subject!r} holds {sorted(files - stages[subject])}"


def journal_facts(project: Path) -> dict:
    db = sqlite3.connect(project / ".metagpt" / "state.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    by_status = dict(db.execute("SELECT status, COALESCE(SUM(cost), 0) FROM calls GROUP BY status").fetchall())
    runs = [r[0] for r in db.execute("SELECT status FROM runs ORDER BY started_at")]
    return {"cost": by_status, "runs": runs}


def assert_clean(project: Path) -> None:
    leftovers = [p for p in project.rglob("*.mgtmp")]
    assert leftovers == [], leftovers
    assert not (project / ".git" / "index.lock").exists()
    import fcntl

    fd = os.open(project / ".metagpt" / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds it
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict:
    """The uninterrupted run: its requests, its files, and how often each crash point passes."""
    cwd = tmp_path_factory.mktemp("baseline")
    with OpenAIServer(reply) as server:
        started = time.monotonic()
        result = metagpt(server, cwd, IDEA)
        seconds = time.monotonic() - started
        assert result.returncode == 0, result.stderr[-3000:]
        project = project_of(cwd)
        return {
            "requests": len(server.requests),
            "bodies": [json.dumps(b, sort_keys=True) for b in server.bodies],
            "bill": sum(dollars(u) for u in server.usages),
            "digest": tree_digest(project),
            "docs_tree": git_tree(project),
            "commit_files": commit_files(project),
            "name": project.name,
            "seconds": seconds,
            "commits": int(
                subprocess.run(
                    ["git", "-C", str(project), "rev-list", "--count", "HEAD"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            ),
            "files": sum(
                1
                for p in project.rglob("*")
                if p.is_file() and p.relative_to(project).parts[0] not in (".git", ".metagpt", "logs", ".gitignore")
            ),
        }


def passes_of(point: str, baseline: dict) -> int:
    """How often `point` surely passes in an uninterrupted run: once per call, per commit, and at
    least once per file the project holds (some are written twice)."""
    return {"git": baseline["commits"], "file": baseline["files"]}.get(point, baseline["requests"])


def cases() -> list[tuple[str, int]]:
    """(point, k) for every k with RUN_SLOW=1 (k past a point's passes skips), else one seeded
    k per point, given as a fraction of its passes (k = -1000 * fraction)."""
    if SLOW:
        return [(point, k) for point in POINTS for k in range(1, 31)]
    rng = random.Random(SEED)
    seeded = [(point, -int(1000 * rng.random())) for point in POINTS]
    return [*seeded, ("file", -800)]  # and one in the Engineer's files, after a commit or more


@pytest.mark.parametrize(("point", "k"), cases())
def test_crash_at_a_point_then_resume_equals_the_uninterrupted_run(allow_model_requests, baseline, tmp_path, point, k):
    passes = passes_of(point, baseline)
    if k <= 0:
        k = 1 + (-k * passes) // 1000
    if k > passes and not SLOW:
        raise AssertionError(f"{point}:{k} is past the {passes} passes of an uninterrupted run")
    with OpenAIServer(reply) as server:
        crashed = metagpt(server, tmp_path, IDEA, METAGPT_CRASH_AT=f"{point}:{k}")
        if crashed.returncode == 0:
            pytest.skip(f"{point} passes fewer than {k} times in this run")
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
        sent_before = len(server.requests)

        resumed = resume_until_done(server, tmp_path)
        project = project_of(tmp_path)

        assert project.name == baseline["name"]
        assert tree_digest(project) == baseline["digest"]
        assert git_tree(project) == baseline["docs_tree"]  # the stage the crash cut short was committed
        assert_labelled_by_their_files(project, baseline)
        extra = 1 if point == "after_answer" else 0  # its answer arrived but was never recorded
        assert len(server.requests) == baseline["requests"] + extra
        if extra:  # the one paid twice is the last request the killed run sent
            assert server.bodies[sent_before - 1] == server.bodies[sent_before]
        facts = journal_facts(project)
        assert facts["runs"] == ["interrupted", "finished"]
        recorded = facts["cost"].get("ok", 0) + facts["cost"].get("error", 0)
        lost = dollars(server.usages[sent_before - 1]) if extra else 0.0
        assert recorded == pytest.approx(sum(dollars(u) for u in server.usages) - lost, rel=1e-9)
        spent = recorded + facts["cost"].get("interrupted", 0)
        assert spent >= sum(dollars(u) for u in server.usages) - 1e-12  # the lost answer counts at its worst case
        assert f"Spent ${spent:.4f} of $3.0000" in resumed.stderr
        if sent_before:  # the summary splits the spend only when the killed run had made calls
            assert "before resuming" in resumed.stderr
        assert_clean(project)


@pytest.mark.parametrize("trial", range(6 if SLOW else 1))
def test_killed_from_outside_at_a_random_time_then_resumed(allow_model_requests, baseline, tmp_path, trial):
    delay = random.Random(SEED + trial).uniform(0.2, max(0.3, baseline["seconds"] * 0.9))
    with OpenAIServer(reply) as server:
        process = subprocess.Popen(
            [sys.executable, str(STARTUP), IDEA],
            cwd=tmp_path,
            env=environ(server),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if projects_in(tmp_path):
            result = metagpt(server, tmp_path, "resume", str(project_of(tmp_path)))
        else:  # killed while the folder was set up: nothing to resume, and the next run sweeps it
            assert not server.requests
            result = metagpt(server, tmp_path, IDEA)
            assert [p.name for p in (tmp_path / "workspace").iterdir()] == [project_of(tmp_path).name]
        assert result.returncode == 0, result.stderr[-3000:]
        project = project_of(tmp_path)
        assert tree_digest(project) == baseline["digest"]
        assert len(server.requests) <= baseline["requests"] + 1
        assert_clean(project)


def test_resuming_a_finished_run_says_so_and_calls_nothing(allow_model_requests, baseline, tmp_path):
    with OpenAIServer(reply) as server:
        assert metagpt(server, tmp_path, IDEA).returncode == 0
        sent = len(server.requests)

        result = metagpt(server, tmp_path, "--recover-path", str(project_of(tmp_path)))

        assert result.returncode == 0, result.stderr
        assert "finished; nothing to resume" in result.stderr
        assert len(server.requests) == sent


def test_a_second_process_resuming_a_running_project_is_refused(allow_model_requests, tmp_path):
    with OpenAIServer(reply) as server:
        crashed = metagpt(server, tmp_path, IDEA, METAGPT_CRASH_AT="after_journal:2")
        assert crashed.returncode == -signal.SIGKILL
        project = project_of(tmp_path)
        hold = (
            "import sys, time; from metagpt.journal.lock import ProjectLock;"
            " ProjectLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(30)"
        )
        command = [sys.executable, "-c", hold, str(project / ".metagpt")]
        holder = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environ(server))
        try:
            assert holder.stdout.readline().strip() == "held"
            result = metagpt(server, tmp_path, "resume", str(project))
        finally:
            holder.kill()
            holder.wait()

        assert result.returncode == 2
        assert f"Another MetaGPT process (pid {holder.pid}) is running" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_changed_model_is_reported_and_paid_again_from_there(allow_model_requests, tmp_path):
    with OpenAIServer(reply) as server:
        crashed = metagpt(server, tmp_path, IDEA, METAGPT_CRASH_AT="after_journal:3")
        assert crashed.returncode == -signal.SIGKILL
        sent = len(server.requests)

        result = metagpt(server, tmp_path, "resume", str(project_of(tmp_path)), "--model", "gpt-4o")

        assert result.returncode == 0, result.stderr[-3000:]
        assert "no longer matches" in result.stderr
        assert len(server.requests) == sent + 9  # nothing matched: every call is paid again
