"""`--investment-total` through the real CLI: cumulative across `--resume`, and refused up front
when it cannot pay for a single first call (no folder, no request, one line)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from metagpt.batch.ledger import Ledger, LocalBudget, to_micros
from metagpt.batch.preflight import first_call_dollars, hold_first_call
from metagpt.const import STATE_DB
from metagpt.exceptions import NoMoneyException
from tests.batch.conftest import IDEAS, bill, loopback_config
from tests.batch.test_batch_asyncio import cli
from tests.e2e.openai_server import OpenAIServer

SUMMARY = re.compile(r"Shared budget: \$([\d.]+) used of \$([\d.]+): \$([\d.]+) spent(?: \(\$([\d.]+) of it before)?")


def journal_costs(workspace: Path) -> float:
    """What every project's journal says was charged (the ledger's own source on resume)."""
    total = 0.0
    for db_path in workspace.glob(f"*/{STATE_DB}"):
        db = sqlite3.connect(db_path)
        statuses = ("ok", "error", "cancelled", "interrupted")
        total += db.execute(f"SELECT COALESCE(SUM(cost), 0) FROM calls WHERE status IN {statuses}").fetchone()[0]
        db.close()
    return total


def test_a_resumed_batch_spends_what_is_left_of_its_total_not_the_total_again(allow_model_requests, tmp_path):
    """The review's finding 8: `--resume --investment-total 0.08` after $0.0437 billed $0.0764 more.
    Six companies cost about $0.0067 in all, so both runs here stop on their totals."""
    ideas = tmp_path / "ideas.txt"
    ideas.write_text("\n".join(IDEAS))
    first_total, second_total = 0.002, 0.004
    with OpenAIServer() as server:
        first = cli(server, tmp_path, str(ideas), "--workspace", "out", "--investment-total", str(first_total))
        assert first.returncode == 3, first.stderr[-3000:]
        billed_first = bill(server.usages)
        assert 0 < billed_first <= first_total

        second = cli(
            server, tmp_path, str(ideas), "--workspace", "out", "--resume", "--investment-total", str(second_total)
        )
        assert second.returncode == 3, second.stderr[-3000:]  # still stopped: the total, not the work, ran out
        billed = bill(server.usages)
    assert billed_first < billed <= second_total  # both runs together, as the server billed them
    assert journal_costs(tmp_path / "out") == pytest.approx(billed)
    used, total, spent, before = (float(x) for x in SUMMARY.search(second.stderr).groups())
    assert total == second_total and before == pytest.approx(billed_first, abs=1e-4)
    assert spent == pytest.approx(billed, abs=1e-4) and billed <= used + 1e-4 <= second_total + 1e-4
    print(f"first run billed ${billed_first:.6f} of ${first_total}; both runs ${billed:.6f} of ${second_total}")


def test_a_total_smaller_than_any_first_call_starts_nothing(allow_model_requests, tmp_path):
    """Finding 13: 200 ideas, a total no call fits: no request, no folder, no repository, one line."""
    ideas = tmp_path / "ideas.txt"
    ideas.write_text("\n".join(f"a tiny tool number {n}" for n in range(200)))
    with OpenAIServer() as server:
        run = cli(server, tmp_path, str(ideas), "--workspace", "out", "--investment-total", "0.0005")
        assert server.requests == []
    assert run.returncode == 3
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("Error: --investment-total $0.0005 leaves $0.0005, less than the smallest first call")
    assert "nothing was started" in lines[0] and "Raise --investment-total above $0.00" in lines[0]
    assert not (tmp_path / "out").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["ideas.txt"]


async def test_on_resume_the_check_counts_what_the_projects_spent_before(allow_model_requests, tmp_path):
    ideas = tmp_path / "ideas.txt"
    ideas.write_text(IDEAS[0])
    with OpenAIServer() as server:
        done = cli(server, tmp_path, str(ideas), "--workspace", "out", "--investment-total", "1")
        assert done.returncode == 0, done.stderr[-3000:]
        spent = bill(server.usages)
        [needed] = await first_call_dollars(loopback_config(server.base_url), [IDEAS[1]])
        ideas.write_text(f"{IDEAS[0]}\n{IDEAS[1]}")  # a new idea, under a total the first spent almost all of
        sent = len(server.requests)
        total = round(spent + needed / 2, 6)
        refused = cli(server, tmp_path, str(ideas), "--workspace", "out", "--resume", "--investment-total", str(total))
        assert len(server.requests) == sent
    assert refused.returncode == 3
    [line] = refused.stderr.strip().splitlines()
    assert f"(the batch's projects spent ${spent:.4f} before)" in line and f"(${needed:.4f}, its worst case" in line
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["command_line_snake_game"]


def test_a_company_whose_first_call_no_longer_fits_makes_no_folder(allow_model_requests, tmp_path):
    """One company at a time: the first spends most of the total, the others cannot start."""
    ideas = tmp_path / "ideas.txt"
    ideas.write_text("\n".join(IDEAS[:3]))
    with OpenAIServer() as server:
        run = cli(
            server, tmp_path, str(ideas), "--workspace", "out", "--workers", "1", "--investment-total", "0.0015",
            "--json",
        )  # fmt: skip
        billed = bill(server.usages)
    assert run.returncode == 3, run.stderr[-3000:]
    report = json.loads(run.stdout)
    first, *others = report["results"]
    assert first["status"] == "budget" and first["calls"] > 0 and Path(first["project"]).is_dir()
    assert [(r["status"], r["calls"]) for r in others] == [("budget", 0), ("budget", 0)]
    assert all("Total budget exhausted" in r["error"] and not Path(r["project"]).exists() for r in others)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["command_line_snake_game"]
    assert billed <= report["total"]["used"] <= 0.0015


async def test_a_company_that_made_its_folder_gets_its_advance_hold_for_its_first_call(openai_server):
    """No race between the check before the folder and the first call: the call takes that hold."""
    config = loopback_config(openai_server.base_url)
    [dollars] = await first_call_dollars(config, [IDEAS[0]])
    ledger = Ledger(dollars * 1.5)
    held = await hold_first_call(config, IDEAS[0], LocalBudget(ledger))
    assert ledger.state().held == to_micros(dollars)
    assert ledger.reserve("another company", ledger.total - ledger.state().held)[0]  # takes all the rest
    ticket = await held.reserve(dollars)  # the first call: granted, from the advance hold
    held.commit(ticket, dollars / 4)
    held.release_unused()  # nothing left to give back
    state = ledger.state()
    # refused once: the advance asked for the prompt's upper bound first, which did not fit
    assert (state.spent, state.holds, state.granted, state.refused) == (to_micros(dollars / 4), 1, 2, 1)
    with pytest.raises(NoMoneyException):
        await held.reserve(dollars)  # later calls ask the ledger as usual

    unused = await hold_first_call(config, IDEAS[1], LocalBudget(ledger := Ledger(1.0)))
    unused.release_unused()  # the company ended before its first call
    assert ledger.state().holds == 0


async def test_the_advance_hold_prices_the_request_the_company_sends_first(allow_model_requests, tmp_path):
    """What a batch holds before a company's folder is the worst case of the very request its
    Product Manager sends first (the idea restated after the example included)."""
    from metagpt.actions.write_prd import WritePRD
    from metagpt.context import Context
    from metagpt.roles import ProductManager
    from metagpt.roles.role_context import working_scope

    ideas = tmp_path / "ideas.txt"
    ideas.write_text(IDEAS[1])
    with OpenAIServer() as server:
        run = cli(server, tmp_path, str(ideas), "--workspace", "out", "--workers", "1", "--investment-total", "1")
        sent = server.bodies[0]["messages"]
        context = Context(loopback_config(server.base_url))
        try:
            manager = ProductManager(context=context)
            [write_prd] = manager.actions
            assert isinstance(write_prd, WritePRD)
            with working_scope(manager.llm, context):
                expected = write_prd.first_request(IDEAS[1]).messages
        finally:
            await context.aclose()
    assert run.returncode == 0, run.stderr[-3000:]
    assert [m["content"] for m in sent] == [m["content"] for m in expected]


async def test_a_first_call_asking_its_bound_first_keeps_the_advance_of_its_exact_count(openai_server):
    """The call holds its prompt's upper bound first and its exact count when the bound does not
    fit (`metagpt.reservation.hold`): refused the bound, it still gets the advance for the exact."""
    config = loopback_config(openai_server.base_url)
    [exact] = await first_call_dollars(config, [IDEAS[0]])
    [bound] = await first_call_dollars(config, [IDEAS[0]], exact=False)
    assert bound > exact
    ledger = Ledger((exact + bound) / 2)  # the exact count fits, the bound does not
    held = await hold_first_call(config, IDEAS[0], LocalBudget(ledger))
    assert ledger.state().held == to_micros(exact)
    with pytest.raises(NoMoneyException):
        await held.reserve(bound)
    assert ledger.state().held == to_micros(exact)  # the advance was kept
    ticket = await held.reserve(exact)
    held.commit(ticket, exact / 4)
    assert ledger.state().spent == to_micros(exact / 4) and ledger.state().holds == 0

    roomy = Ledger(bound * 3)
    held = await hold_first_call(config, IDEAS[0], LocalBudget(roomy))
    assert roomy.state().held == to_micros(bound)  # the bound fits: no exact count needed
    assert roomy.reserve("another company", roomy.total - roomy.state().held)[0]
    ticket = await held.reserve(bound)
    held.commit(ticket, exact / 4)
    assert roomy.state().holds == 1  # only the other company's
