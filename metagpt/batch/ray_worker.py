"""The worker side of the Ray backend: what runs inside the company actors, and the pool's shape.

With `ray_backend` (the driver side), the only modules that import `ray`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import ray
from ray.exceptions import RayError

from metagpt.batch.company import INTERRUPTED, CompanyResult, CompanySettings, Meter, run_company, warm_up
from metagpt.batch.ideas import Idea
from metagpt.batch.ledger import LedgerState, new_ticket, refusal, to_micros
from metagpt.batch.transfer import pack, unpack
from metagpt.configs.settings import Config
from metagpt.exceptions import BudgetLedgerUnavailable

RESOURCE = "metagpt_company"
"""The custom resource limiting companies per node (`ray start --resources='{"metagpt_company": 4}'`)."""


class RayBudget:
    """A `SharedBudget` on the ledger actor, used inside company actors.

    Args:
        owner: names this worker's holds, so the driver can `abandon` them if the worker dies.
    """

    def __init__(self, actor: Any, epoch: str, owner: str = ""):
        self.actor = actor
        self.epoch = epoch
        self.owner = owner

    async def reserve(self, dollars: float) -> str:
        ticket = new_ticket()
        try:
            granted, epoch = await self.actor.reserve.remote(ticket, to_micros(dollars), self.owner)
        except asyncio.CancelledError:
            self.actor.release.remote(ticket)  # in case it was granted: Ray runs it after the reserve
            raise
        except RayError as exc:
            raise BudgetLedgerUnavailable(f"{type(exc).__name__}", dollars) from None
        if epoch != self.epoch:
            raise BudgetLedgerUnavailable("it was restarted and lost its holds", dollars)
        if not granted:
            state: LedgerState = await self.actor.state.remote()
            raise refusal(state, dollars)
        return ticket

    def commit(self, ticket: str, dollars: float) -> None:
        self.actor.commit.remote(ticket, to_micros(dollars))

    def release(self, ticket: str) -> None:
        self.actor.release.remote(ticket)

    async def flush(self) -> None:
        """Wait until the ledger has run every commit and release sent so far (Ray runs one
        caller's calls to a plain actor in order)."""
        await self.actor.state.remote()


class CompanyWorker:
    """The body of a company actor: runs its companies (a few at once at most) where Ray placed it."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task] = {}
        self._meters: dict[str, Meter] = {}

    async def warm(self, config: Config) -> str:
        """Do what a fresh process does in its first company (`warm_up`); returns this actor's node."""
        warm_up(config)
        return ray.get_runtime_context().get_node_id()

    async def spent(self) -> dict[str, float]:
        """Dollars each running company (by project name) has spent so far."""
        return {name: meter.dollars for name, meter in self._meters.items()}

    async def run(
        self,
        idea: Idea,
        settings: CompanySettings,
        workspace: str | None,
        budget: tuple[Any, str, str] | None,
        seed: bytes | None,
        batch_id: str,
    ) -> tuple[CompanyResult, bytes | None]:
        """Run the company; returns its result and, without a shared workspace, its project packed.

        `budget` is (ledger actor, its epoch, the owner name this actor's holds carry).
        """
        shared = workspace is not None
        name = idea.project_name
        root = Path(workspace) if workspace is not None else Path(tempfile.gettempdir()) / "metagpt-batch" / batch_id
        if not shared and seed is not None and not (root / name).exists():
            unpack(seed, root, name)
        ledger = RayBudget(*budget) if budget is not None else None
        meter = self._meters[name] = Meter()
        task = self._tasks[name] = asyncio.ensure_future(run_company(idea, settings, root, ledger, meter))
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            result = CompanyResult(idea.idea, name, status=INTERRUPTED, exit_code=130)
        finally:
            self._tasks.pop(name, None)
            self._meters.pop(name, None)
        if ledger is not None:
            with contextlib.suppress(RayError):
                await ledger.flush()
        result.node = ray.get_runtime_context().get_node_id()
        project = root / name
        if shared or not project.is_dir():
            return result, None
        data = pack(project)
        shutil.rmtree(project, ignore_errors=True)  # our scratch copy; the driver keeps the project
        with contextlib.suppress(OSError):
            root.rmdir()  # once the batch's last company on this node is done
        return result, data

    async def stop(self) -> None:
        """End the running companies as interrupted (Ctrl-C of the batch); their `run`s then return."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class PoolShape(NamedTuple):
    actors: int
    per_actor: int
    """Companies one actor runs at once."""
    slots: int
    """Companies running at once in all."""


def pool_shape(workers: int, per_actor: int | None = None) -> PoolShape:
    """The pool for `workers` companies at once: one actor per CPU of the cluster, since each
    process costs seconds of CPU to start, and more companies per actor when there are more
    workers than CPUs; where nodes offer `metagpt_company`, only as many as fit on them (an
    actor that fits nowhere would wait forever, and its companies with it)."""
    if per_actor is None:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        per_actor = math.ceil(workers / min(workers, cpus))
    per_actor = max(1, min(per_actor, workers))
    offered = [node["Resources"][RESOURCE] for node in ray.nodes() if node["Alive"] and RESOURCE in node["Resources"]]
    if offered and max(offered) >= 1:
        per_actor = min(per_actor, int(max(offered)))
        fits = sum(int(units) // per_actor for units in offered)
        workers = min(workers, fits * per_actor)
    actors = math.ceil(workers / per_actor)
    return PoolShape(actors, per_actor, workers)
