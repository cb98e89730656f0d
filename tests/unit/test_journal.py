"""The journal: migrations, call rows before and after, recovery, replay, redaction, queries."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys

import pytest

from metagpt.config import Config
from metagpt.context import Context
from metagpt.exceptions import NoMoneyException, ProviderError
from metagpt.journal import CallEnd, CallStart, Journal
from metagpt.journal.lock import ProjectBusyError, ProjectLock
from metagpt.journal.migrations import MIGRATIONS
from metagpt.journal.queries import Filters, list_calls, parse_since, percentile, summary
from metagpt.journal.recovery import tidy
from metagpt.llm import LLM
from metagpt.logs import register_secret
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, Usage
from metagpt.utils.atomic import TMP_SUFFIX, remove_leftovers, write_atomic


def start(key: str = "r/a/t#1", request_hash: str = "h1", **changes) -> CallStart:
    values = dict(
        role="r", action="a", target="t", model="m", api_type="fake", base_url="", call_key=key,
        request_hash=request_hash, request={"messages": [{"role": "user", "content": "hi"}]},
    )  # fmt: skip
    return CallStart(**{**values, **changes})


class Scripted(Provider):
    """Answers in turn from a list of texts or exceptions, counting requests."""

    def __init__(self, *answers, priced: bool = True):
        self.model = "gpt-4o-mini"
        self.priced = priced
        self.answers = list(answers)
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return ModelResponse(text=answer, usage=Usage(prompt_tokens=100, completion_tokens=10), model=self.model)


def llm_with(tmp_path, provider: Provider, **settings) -> LLM:
    config = Config(api_type="fake", state_db=tmp_path / "state.db", max_retries=2, **settings)
    return LLM(Context(config, provider=provider), role="Tester")


def rows(path) -> list[tuple]:
    db = sqlite3.connect(path)
    return db.execute(
        "SELECT status, attempt, cost, error, prompt_tokens, http_status FROM calls ORDER BY id"
    ).fetchall()


def test_schema_is_migrated_once_and_recorded(tmp_path):
    path = tmp_path / "state.db"
    Journal(path).start_run("idea")
    Journal(path).start_run("again")  # opening again migrates nothing

    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM _migrations")] == [name for name, _ in MIGRATIONS]
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_database_is_refused(tmp_path):
    path = tmp_path / "state.db"
    Journal(path).start_run()
    sqlite3.connect(path).execute("INSERT INTO _migrations VALUES ('m999_future', 0)").connection.commit()

    with pytest.raises(Exception, match="newer MetaGPT"):
        Journal(path).start_run()


def test_row_is_committed_before_the_call_and_completed_after(tmp_path):
    journal = Journal(tmp_path / "state.db")
    journal.start_run()
    call_id = journal.begin(start())

    assert rows(tmp_path / "state.db") == [("started", 1, None, None, None, None)]  # visible to another connection
    journal.finish(call_id, CallEnd(status="ok", response={"text": "yo"}, prompt_tokens=5, cost=0.25))
    assert rows(tmp_path / "state.db") == [("ok", 1, 0.25, None, 5, None)]


def test_a_dead_runs_started_calls_count_at_their_worst_case(tmp_path):
    path = tmp_path / "state.db"
    script = (
        "import os, signal, sys\n"
        "from metagpt.journal import Journal, CallStart\n"
        f"j = Journal({str(path)!r}); j.start_run('idea')\n"
        "j.begin(CallStart('r', 'a', '', 'm', 'fake', '', 'k', 'h', {}, reserved=0.5))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=False)

    journal = Journal(path)
    journal.start_run("resumed")
    assert rows(path) == [("interrupted", 1, 0.5, "the process ended before the answer was recorded", None, None)]
    assert journal.spent() == {("r", "m"): (1, 0, 0, 0.5)}
    assert journal.last_run().status == "interrupted"


def test_a_live_processs_run_is_not_recovered(tmp_path):
    """Standalone calls of two processes may share STATE_DB: only dead owners are recovered."""
    path = tmp_path / "state.db"
    first = Journal(path)
    first.start_run()
    first.begin(start())

    Journal(path).start_run()

    assert rows(path)[0][0] == "started"


async def test_llm_journals_each_attempt_and_charges_what_may_be_billed(tmp_path):
    cut = ProviderError("cut", retryable=True, billable=True)
    refused = ProviderError("429", retryable=True, status=429)
    provider = Scripted(cut, refused, "done")
    llm = llm_with(tmp_path, provider)

    assert await llm.aask("hi") == "done"

    [cut_row, refused_row, ok_row] = rows(tmp_path / "state.db")
    assert cut_row[:2] == ("error", 1) and cut_row[2] > 0 and "cut" in cut_row[3]  # charged at its worst case
    assert refused_row[:3] == ("error", 2, 0.0) and refused_row[5] == 429  # a refusal is not billed
    assert ok_row[:2] == ("ok", 3) and ok_row[4] == 100
    assert llm.cost_manager.total_cost == pytest.approx(cut_row[2] + ok_row[2])
    assert summary(sqlite3.connect(tmp_path / "state.db"))["total"]["cost"] == pytest.approx(
        llm.cost_manager.total_cost
    )


async def test_no_row_when_the_budget_refuses_before_sending(tmp_path):
    provider = Scripted("never")
    llm = llm_with(tmp_path, provider, max_budget=1e-9)

    with pytest.raises(NoMoneyException):
        await llm.aask("hi")

    assert provider.requests == []
    assert not (tmp_path / "state.db").exists()  # created on the first call that is sent


async def test_without_state_db_nothing_is_journaled(tmp_path):
    llm = LLM(Context(Config(api_type="fake"), provider=Scripted("a")))
    await llm.aask("hi")
    assert llm.context.journal is None
    assert not list(tmp_path.rglob("*.db"))


async def test_resumed_run_replays_each_recorded_answer_once(tmp_path):
    path = tmp_path / "state.db"
    first = llm_with(tmp_path, Scripted("one", "two"))
    assert [await first.aask("same"), await first.aask("same")] == ["one", "two"]

    provider = Scripted("three")
    second = llm_with(tmp_path, provider)
    second.context.journal.start_run(replay=True)
    answers = [await second.aask("same"), await second.aask("same"), await second.aask("same")]

    assert answers == ["one", "two", "three"]  # two from the journal, in order, then a new call
    assert len(provider.requests) == 1
    statuses = [r[0] for r in rows(path)]
    assert statuses == ["ok", "ok", "replayed", "replayed", "ok"]
    assert second.cost_manager.total.calls == 1  # replays cost nothing


async def test_a_changed_request_is_sent_and_reported(tmp_path):
    first = llm_with(tmp_path, Scripted("one"))
    await first.aask("the prompt")

    provider = Scripted("new")
    second = llm_with(tmp_path, provider)
    journal = second.context.journal
    journal.start_run(replay=True)
    assert await second.aask("a changed prompt") == "new"
    assert journal.mismatch == "Tester/-/-#1"


def test_canary_secret_is_never_stored(tmp_path):
    canary = "sk-canary-" + "Z" * 24
    register_secret(canary)
    journal = Journal(tmp_path / "state.db")
    journal.start_run(f"idea {canary}", {"argv": [canary]})
    call = journal.begin(start(base_url=f"https://proxy/{canary}/v1", request={"messages": [{"content": canary}]}))
    journal.finish(call, CallEnd(status="error", error=f"echo {canary}", response={"text": canary}))
    journal.close()

    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert canary.encode() not in raw
    assert b"***" in raw


def test_queries_filter_and_summarise(tmp_path):
    journal = Journal(tmp_path / "state.db")
    journal.start_run()
    for role, status, cost, ms in [("PM", "ok", 0.1, 10.0), ("Eng", "ok", 0.2, 30.0), ("Eng", "error", 0.05, 5.0)]:
        call = journal.begin(start(role=role))
        journal.finish(call, CallEnd(status=status, cost=cost, latency_ms=ms, prompt_tokens=1, completion_tokens=2))
    db = journal.db

    assert [r["role"] for r in list_calls(db, Filters(role="Eng"))] == ["Eng", "Eng"]
    assert [r["status"] for r in list_calls(db, Filters(limit=1))] == ["error"]
    report = summary(db)
    assert report["total"]["cost"] == pytest.approx(0.35)
    assert report["total"]["errors"] == 1
    [eng, pm] = report["groups"]
    assert (eng["calls"], eng["p50_ms"], pm["calls"]) == (2, 30.0, 1)


def test_percentile_and_since():
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile([1.0] * 19 + [100.0], 95) == 1.0
    assert percentile([], 50) is None
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    with pytest.raises(Exception, match="neither a duration"):
        parse_since("yesterday-ish")


def test_project_lock_refuses_a_second_owner_and_frees_on_release(tmp_path):
    lock = ProjectLock(tmp_path)
    lock.acquire()
    with pytest.raises(ProjectBusyError, match=f"pid {os.getpid()}"):
        ProjectLock(tmp_path).acquire()
    lock.release()
    fd = os.open(tmp_path / "lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    os.close(fd)


def test_atomic_write_never_follows_a_planted_link(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    target = tmp_path / "doc.md"
    write_atomic(target, b"v1")
    for candidate in tmp_path.iterdir():
        assert not candidate.name.endswith(TMP_SUFFIX)
    write_atomic(target, b"v2")

    assert target.read_bytes() == b"v2"
    assert outside.read_text() == "keep"
    (tmp_path / f".doc.md.0000{TMP_SUFFIX}").write_text("half")
    assert [p.name for p in remove_leftovers(tmp_path)] == [f".doc.md.0000{TMP_SUFFIX}"]


def test_tidy_removes_leftovers_and_a_stale_git_lock(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index.lock").write_text("")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / f".prd.md.abc{TMP_SUFFIX}").write_text("half")
    tidy(tmp_path)
    assert not (tmp_path / ".git" / "index.lock").exists()
    assert list((tmp_path / "docs").iterdir()) == []
