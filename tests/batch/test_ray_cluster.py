"""The Ray backend on a simulated two-node cluster: placement, shared budget, a killed company.

One cluster serves the whole module (starting one takes seconds on a small machine).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402

from metagpt.batch import BatchOptions, run_batch  # noqa: E402
from metagpt.batch.ledger import Ledger, to_micros  # noqa: E402
from metagpt.batch.ray_backend import RESOURCE, RayBudget, _reload_auth  # noqa: E402
from metagpt.exceptions import NoMoneyException  # noqa: E402
from tests.batch.conftest import IDEAS, MAX_TOKENS, bill, digests, kept_files, loopback_config  # noqa: E402
from tests.e2e.openai_server import OpenAIServer, realistic_reply  # noqa: E402
from tests.e2e.test_resume import STARTUP, environ, tree_digest  # noqa: E402


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in ("HOME", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "XDG_CACHE_HOME")}
    os.environ.update(
        HOME=str(home),
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(16),
        XDG_CACHE_HOME=str(tmp_path_factory.mktemp("cache")),
    )
    _reload_auth()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {RESOURCE: 2}})
    cluster.add_node(num_cpus=1, resources={RESOURCE: 2})
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reload_auth()
        assert list(home.iterdir()) == []


async def test_companies_run_on_both_nodes_and_end_in_the_drivers_workspace(cluster, openai_server, tmp_path):
    config = loopback_config(openai_server.base_url)
    ideas = IDEAS[:4]
    local = await run_batch(ideas, workers=4, config=config, workspace=tmp_path / "asyncio")
    whole = bill(openai_server.usages)
    openai_server.requests.clear()

    results = await run_batch(ideas, workers=4, backend="ray", config=config, workspace=tmp_path / "ray")
    assert [r.status for r in results] == ["done"] * 4
    assert len({r.node for r in results}) == 2  # two companies per node at most: both nodes worked
    assert digests(tmp_path / "ray") == digests(tmp_path / "asyncio")
    assert sum(r.cost for r in results) == pytest.approx(sum(r.cost for r in local))
    openai_server.requests.clear()

    total = whole / 2
    half = await run_batch(
        ideas, workers=4, backend="ray", config=config, workspace=tmp_path / "half", investment_total=total
    )
    spent = bill(openai_server.usages)
    assert spent <= total and half.ledger is not None and spent <= half.ledger.spent_dollars <= total
    stopped = [r for r in half if r.status == "budget"]
    assert stopped and all(r.exit_code == 3 for r in stopped)
    # A stopped company keeps its files; one whose first call no longer fitted made no folder.
    assert all(kept_files(Path(r.project)) if r.calls else not Path(r.project).exists() for r in stopped)


async def test_a_killed_company_resumes_from_its_journal_without_paying_a_finished_call_again(
    cluster, allow_model_requests, tmp_path
):
    idea = IDEAS[0]
    with OpenAIServer() as server:
        await run_batch([idea], workers=1, config=loopback_config(server.base_url), workspace=tmp_path / "whole")
        baseline = len(server.requests)
    [uninterrupted] = (tmp_path / "whole").iterdir()

    actors = []
    killed = []

    def handler(body):
        if len(server.requests) == 5 and not killed:  # the 5th request: kill its company mid-call
            killed.append(time.monotonic())
            ray.kill(actors[0], no_restart=False)
            time.sleep(1.0)  # this answer is never read
        return realistic_reply(body)

    from metagpt.batch.ray_backend import RayBackend

    backend = RayBackend(BatchOptions(max_restarts=2))
    backend.on_launch = lambda _, actor: actors.append(actor)
    with OpenAIServer(handler) as server:
        [result] = await run_batch(
            [idea], workers=1, backend=backend, config=loopback_config(server.base_url), workspace=tmp_path / "killed"
        )
        assert killed and result.status == "done" and result.restarts >= 1
        assert len(server.requests) == baseline + 1  # only the call cut by the kill was sent twice
        assert server.requests[4].body == server.requests[5].body
    assert tree_digest(Path(result.project)) == tree_digest(uninterrupted)


async def test_killing_an_actor_that_runs_two_companies_resumes_both_in_a_new_one(
    cluster, allow_model_requests, tmp_path
):
    ideas = IDEAS[1:3]
    config = loopback_config
    with OpenAIServer() as server:
        await run_batch(ideas, workers=2, config=config(server.base_url), workspace=tmp_path / "whole")
        baseline = len(server.requests)

    from metagpt.batch.ray_backend import RayBackend

    actors, killed = [], []

    def handler(body):
        if len(server.requests) == 6 and not killed:  # both companies are under way
            killed.append(len(actors))
            ray.kill(actors[0], no_restart=False)
            time.sleep(1.0)  # this answer is never read
        return realistic_reply(body)

    backend = RayBackend(BatchOptions(max_restarts=1, companies_per_actor=2))
    backend.on_launch = lambda _, actor: actors.append(actor)
    with OpenAIServer(handler) as server:
        results = await run_batch(
            ideas, workers=2, backend=backend, config=config(server.base_url), workspace=tmp_path / "killed"
        )
        assert killed == [1] and len(actors) == 2  # one actor held both; one new actor took both over
        assert [r.status for r in results] == ["done", "done"] and all(r.restarts == 1 for r in results)
        # Only the calls cut by the kill (one in flight per company at most) were sent again.
        assert baseline < len(server.requests) <= baseline + 2
    assert digests(tmp_path / "killed") == digests(tmp_path / "whole")


@ray.remote(num_cpus=0)
class Companies:
    """Many companies on one node, all holding their next call at once."""

    async def reserve_all(self, actor, epoch: str, n: int, dollars: float) -> int:
        budget = RayBudget(actor, epoch)

        async def one() -> bool:
            try:
                await budget.reserve(dollars)
            except NoMoneyException:
                return False
            return True

        return sum(await asyncio.gather(*(one() for _ in range(n))))


def test_fifty_companies_on_two_nodes_reserving_at_once_get_exactly_what_fits(cluster):
    ledger = ray.remote(num_cpus=0, max_restarts=0)(Ledger).remote(0.3)
    epoch = ray.get(ledger.state.remote()).epoch
    nodes = [Companies.options(resources={RESOURCE: 1}, scheduling_strategy="SPREAD").remote() for _ in range(2)]
    granted = ray.get([node.reserve_all.remote(ledger, epoch, 25, 0.1) for node in nodes])
    state = ray.get(ledger.state.remote())
    assert sum(granted) == 3 and (state.granted, state.refused, state.held) == (3, 47, to_micros(0.3))
    ray.kill(ledger)  # an unreachable ledger refuses, never guesses
    time.sleep(0.5)
    assert ray.get(nodes[0].reserve_all.remote(ledger, epoch, 2, 0.0001)) == 0
    for node in nodes:
        ray.kill(node)


def cluster_processes(cluster) -> list:
    nodes = cluster.list_all_nodes()
    return [info.process for node in nodes for infos in node.all_processes.values() for info in infos]


def test_the_cli_joins_a_running_cluster_writes_into_the_shared_workspace_and_leaves_the_cluster_running(
    cluster, allow_model_requests, tmp_path
):
    ideas = tmp_path / "ideas.txt"
    ideas.write_text("\n".join(IDEAS[:3]))
    shared = tmp_path / "shared"
    seen: set[str] = set()

    def handler(body):
        if len(server.requests) <= 8:  # no company has made its 9 calls yet, so none has ended
            seen.update(p.parent.parent.name for p in shared.glob("*/docs/prd.json"))
        return realistic_reply(body)

    processes = cluster_processes(cluster)
    resources = ray.cluster_resources()
    with OpenAIServer(handler) as server:
        run = subprocess.run(
            [sys.executable, str(STARTUP), "batch", str(ideas), "--backend", "ray", "--address", cluster.address,
             "--workers", "2", "--workspace", str(shared), "--json"],
            cwd=tmp_path, env=environ(server, MAX_TOKENS=str(MAX_TOKENS)), capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        finished = len(server.requests)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout)["results"]
    assert [r["status"] for r in results] == ["done"] * 3
    assert {Path(r["project"]).parent for r in results} == {shared}
    # Written straight into the shared workspace while they ran (shipped back, they would appear as they end).
    assert seen and seen <= {Path(r["project"]).name for r in results}
    assert not any(p.name.startswith(".incoming-") for p in shared.iterdir()) and finished >= 27
    # The cluster we joined is as it was: its processes alive, its resources all free again.
    assert all(process.poll() is None for process in processes)
    assert ray.cluster_resources() == resources
    deadline = time.monotonic() + 20
    while ray.available_resources().get(RESOURCE, 0) < resources[RESOURCE] and time.monotonic() < deadline:
        time.sleep(0.2)  # the batch's actors end with its driver
    assert ray.available_resources().get(RESOURCE, 0) == resources[RESOURCE]


def test_the_pool_has_one_actor_per_cpu_and_never_more_companies_than_the_nodes_offer(cluster):
    from metagpt.batch.ray_worker import pool_shape

    # Two nodes of 1 CPU, each offering 2 companies.
    assert pool_shape(1) == (1, 1, 1)
    assert pool_shape(4) == (2, 2, 4)
    assert pool_shape(3) == (2, 2, 3)
    assert pool_shape(8) == (2, 2, 4)  # 4 more would wait for room that never comes
    assert pool_shape(5, per_actor=1) == (4, 1, 4)


def company_worker_pids() -> list[int]:
    """Processes of company actors (Ray names them `ray::CompanyWorker`, `ray::CompanyWorker.run`)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"ray::CompanyWorker"):
            pids.append(int(pid))
    return pids


def test_an_actor_sigkilled_mid_call_keeps_its_hold_counted_shown_and_the_rest_bounded(
    cluster, allow_model_requests, tmp_path
):
    """Finding 15: a SIGKILLed actor's hold was never released and the summary left it out ($0.0496
    said, $0.0512 billed). Its hold now counts, is shown as held by dead workers, and bounds the rest."""
    ideas = tmp_path / "ideas.txt"
    ideas.write_text("\n".join(IDEAS[:3]))
    shared = tmp_path / "shared"
    total = 0.0025  # the first company and its cut call; not the next company's first call on top
    killed: list[int] = []

    def handler(body):
        if len(server.requests) == 5 and not killed:  # the first company's 5th call: kill its actor now
            [pid] = company_worker_pids()
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            time.sleep(1.0)  # answered (and billed) after its caller died: never read
        return realistic_reply(body)

    with OpenAIServer(handler) as server:
        run = subprocess.run(
            [sys.executable, str(STARTUP), "batch", str(ideas), "--backend", "ray", "--address", cluster.address,
             "--workers", "1", "--workspace", str(shared), "--investment-total", str(total)],
            cwd=tmp_path, env=environ(server, MAX_TOKENS=str(MAX_TOKENS)), capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        billed = bill(server.usages)
    assert killed and run.returncode == 3, run.stderr[-3000:]
    journal = sqlite3.connect(shared / "command_line_snake_game" / ".metagpt" / "state.db")
    [(cut,)] = journal.execute("SELECT reserved FROM calls WHERE status = 'interrupted'").fetchall()
    journal.close()
    summary = re.search(
        r"Shared budget: \$([\d.]+) used of \$([\d.]+): \$([\d.]+) spent, \$([\d.]+) held by dead workers \(1 call cut",
        run.stderr,
    )
    assert summary, run.stderr[-3000:]
    used, budget, spent, dead = (float(x) for x in summary.groups())
    assert budget == total and dead == pytest.approx(cut, abs=1e-4) and used == pytest.approx(spent + dead, abs=2e-4)
    assert spent < billed <= used + 1e-4 <= total + 1e-4  # spent alone would say less than the server billed
    # The company's own figures count its cut call at its hold too (its journal, on resuming).
    assert float(re.search(r"Total: \$([\d.]+) over 3 companies", run.stderr).group(1)) == pytest.approx(used, abs=2e-4)
    # The next companies could not start under what is left: no folder, no call.
    assert sorted(p.name for p in shared.iterdir() if p.is_dir()) == ["command_line_snake_game"]
    print(f"ray kill: billed ${billed:.6f}, spent ${spent:.4f} + held by dead workers ${dead:.4f} of ${total}")
