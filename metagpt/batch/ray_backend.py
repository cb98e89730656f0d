"""The Ray backend: a pool of company actors, a ledger actor for the shared budget.

With `ray_worker` (what runs inside the actors), the only modules that import `ray`
(`pip install -e ".[ray]"`).

* Session: with no `address` we start a local cluster and shut it down at the end; with
  `--address auto` or `ray://...` we join a cluster and leave it as it was. A local cluster keeps
  its files under a folder we choose (`temp_dir`, default a new temporary folder), without the
  dashboard's web UI and with usage reporting off (Ray 2.60 still starts a head `dashboard.py`
  and a per-node `ray::DashboardAgent`, which the raylet requires; with plain `ray` neither
  listens on a port); its auth token is passed in the environment (`RAY_AUTH_TOKEN`), so nothing
  is written to `~/.ray` (unless the user configured Ray's authentication: then theirs is used).
* Companies: a pool of long-lived async actors started together, each warmed by its first call
  (`company.warm_up`), because a new process costs seconds of CPU; one actor per CPU of the
  cluster, running several companies at once when there are more workers (`pool_shape`),
  I/O-bound (no CPU reserved), each needing one unit of the custom resource `metagpt_company`
  per company where the cluster defines it (a node offering N runs at most N companies). An
  actor whose company ended takes the next one; results are collected as they finish
  (`ray.wait`). When an actor dies (killed, node lost) one new actor takes its place and its
  companies resume from their journals; after `max_restarts` deaths a company is reported as
  failed and the others go on.
* Files: without a shared workspace, a company works in a scratch folder of its node and sends
  its project back packed; the driver merges it into its workspace. With `shared_workspace`,
  actors write straight into the workspace (a path every node sees).
* Budget: a plain (not async) actor runs the `Ledger`, one method at a time; companies await its
  answers (`await ref`), so no event loop blocks. A dead or restarted ledger refuses. Each actor's
  holds carry its owner name; when the driver sees an actor die (or kills it), it has the ledger
  `abandon` them: they stay counted against the total, as held by dead workers (the server may
  have billed the calls they covered), instead of holding forever or being forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayError, RayTaskError

from metagpt.batch.company import FAILED, BatchOptions, CompanyResult, CompanySettings
from metagpt.batch.ideas import Idea
from metagpt.batch.ledger import Ledger, LedgerState, new_ticket
from metagpt.batch.progress import Tracker
from metagpt.batch.ray_worker import RESOURCE, CompanyWorker, RayBudget, pool_shape
from metagpt.batch.transfer import pack, unpack
from metagpt.exceptions import UserError

__all__ = ["RESOURCE", "CompanyWorker", "RayBackend", "RayBudget", "pool_shape", "ray_session"]

AUTH_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
USAGE_STATS = "RAY_USAGE_STATS_ENABLED"
"""Off for a cluster we start (unless the user set it): its head would otherwise report usage to Ray."""
UNAVAILABLE_RETRIES = 20
"""Times a company's call is sent again to an actor Ray reports as restarting or unreachable."""
STOP_GRACE = 30.0
"""Seconds stopped companies get to end and send their files back after Ctrl-C."""
METER_EVERY = 1.0
"""Seconds between two readings of what the running companies have spent (for the progress line)."""


@contextlib.contextmanager
def ray_session(address: str | None, temp_dir: Path | None) -> Iterator[Path | None]:
    """Connect to Ray for the batch; yields the folder of the cluster we started, else None.

    An already initialized Ray (a test's cluster, the user's own `ray.init`) is used as it is.
    """
    if ray.is_initialized():
        yield None
        return
    if address:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
        try:
            yield None
        finally:
            ray.shutdown()  # disconnects this driver; the cluster keeps running
        return
    own_temp = temp_dir is None
    folder = Path(temp_dir) if temp_dir is not None else Path(tempfile.mkdtemp(prefix="metagpt-ray-"))
    saved = {name: os.environ.get(name) for name in (*AUTH_VARIABLES, USAGE_STATS)}
    if saved[USAGE_STATS] is None:
        os.environ[USAGE_STATS] = "0"
    if all(saved[name] is None for name in AUTH_VARIABLES):
        # Token authentication on, with the token in the environment of the processes we start,
        # instead of the file Ray would otherwise create under ~/.ray.
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
        _reload_auth()
    try:
        ray.init(
            _temp_dir=str(folder),
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        yield folder
    finally:
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reload_auth()
        if own_temp:
            shutil.rmtree(folder, ignore_errors=True)


def _reload_auth() -> None:
    """Make this process read Ray's authentication settings from the environment again
    (Ray reads them once, at import)."""
    from ray._private.authentication.authentication_token_setup import Config
    from ray._raylet import AuthenticationTokenLoader  # type: ignore[attr-defined]  # private, not in ray's stubs

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


class RayBackend:
    """Companies on a pool of Ray actors (see the module docstring)."""

    name = "ray"

    def __init__(self, options: BatchOptions | None = None):
        self.options = options or BatchOptions()
        self.ledger_state: LedgerState | None = None
        self.on_launch: Callable[[Idea | None, Any], None] | None = None
        """Told each company actor as it starts (tests use it to kill one)."""
        self.startup_seconds = 0.0
        """Seconds to start or join Ray."""
        self.warmup_seconds = 0.0
        """Seconds until every actor of the pool was warm (their first companies start as each is)."""
        self.session_folder: Path | None = None
        """The folder of the local cluster we started (None when we joined one)."""

    async def run(
        self,
        ideas: Sequence[Idea],
        settings: CompanySettings,
        workspace: Path,
        workers: int,
        ledger: Ledger | None,
        tracker: Tracker,
    ) -> list[CompanyResult]:
        options = self.options
        started = time.monotonic()
        try:
            session = ray_session(options.address, options.temp_dir)
            self.session_folder = session.__enter__()
        except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
            raise UserError(
                f"Cannot start or join Ray ({exc}); check --address, or run without it (a local Ray keeps its "
                "sockets under TMPDIR, which must be a short path)."
            ) from None
        try:
            driver = _Driver(self, ideas, settings, workspace, workers, ledger, tracker)
            return await driver.run(started)
        finally:
            session.__exit__(None, None, None)


class _Driver:
    """One batch on Ray: warms the pool, hands companies to free actors, replaces dead ones."""

    def __init__(self, backend, ideas, settings, workspace, workers, ledger, tracker):
        self.backend, self.ideas, self.settings = backend, list(ideas), settings
        self.workspace, self.workers, self.ledger, self.tracker = workspace, workers, ledger, tracker
        self.options: BatchOptions = backend.options
        self.results: list[CompanyResult | None] = [None] * len(self.ideas)
        self.restarts = [0] * len(self.ideas)
        self.unavailable = [0] * len(self.ideas)
        self.pending: dict[Any, tuple[int, Any]] = {}
        self.batch_id = new_ticket()[:12]
        self.ledger_actor: Any = None
        self.epoch = ""
        self.owners: dict[Any, str] = {}
        """Each actor -> the owner name its companies' holds carry."""
        self.stopping = False
        self.warming: list[Any] = []
        self.actors: set[Any] = set()
        self.replacements: dict[Any, Any] = {}
        """Each dead actor -> the one in its place (its companies move there)."""

    async def run(self, started: float) -> list[CompanyResult]:
        ledger_actor: Any = None  # an actor handle: its methods have `.remote` at run time
        if self.ledger is not None:
            ledger_actor = ray.remote(num_cpus=0, max_restarts=0)(Ledger).remote(
                micros=self.ledger.total, before=self.ledger.before
            )
        queue = deque(range(len(self.ideas)))
        actors, per_actor, slots = pool_shape(min(self.workers, len(queue)), self.options.companies_per_actor)
        resources = {RESOURCE: per_actor} if RESOURCE in ray.cluster_resources() else None
        # Ray does not restart these: the driver starts a new actor in a dead one's place, so
        # one company's deaths never use up the restarts of the actor the next company gets.
        # max_concurrency is an actor option ray.remote's overloads (typed for tasks) do not list.
        self.actor_class = ray.remote(num_cpus=0, resources=resources, max_restarts=0, max_concurrency=per_actor + 8)(  # type: ignore[call-overload]
            CompanyWorker
        )
        self.backend.startup_seconds = time.monotonic() - started
        meter = warmed = None
        try:
            pool = [self._new_actor() for _ in range(actors)]
            free = [pool[slot % actors] for slot in range(slots)]  # one entry per company it may take
            warmed = asyncio.ensure_future(self._time_warm_up(list(self.warming)))
            if ledger_actor is not None:
                state = await ledger_actor.state.remote()
                self.ledger_actor, self.epoch = ledger_actor, state.epoch
            while queue and free:
                self._submit(queue.popleft(), free.pop())
            meter = asyncio.ensure_future(self._meter())
            while self.pending:
                ready, _ = await asyncio.to_thread(ray.wait, list(self.pending), num_returns=1, timeout=0.5)
                for ref in ready:
                    actor = self._collect(ref)
                    if actor is not None and queue:
                        self._submit(queue.popleft(), actor)  # a warm actor takes the next company
        except asyncio.CancelledError:
            await self._stop_all()
            raise
        finally:
            for task in (meter, warmed):
                if task is not None:
                    task.cancel()
            for actor in self.actors:
                ray.kill(actor)
                self._abandon(actor)  # holds left by a company stopped without settling (Ctrl-C)
            if ledger_actor is not None:
                with contextlib.suppress(RayError):
                    self.backend.ledger_state = await ledger_actor.state.remote()
                ray.kill(ledger_actor)
        return [result for result in self.results if result is not None]

    async def _time_warm_up(self, refs: list[Any]) -> None:
        started = time.monotonic()
        with contextlib.suppress(RayError):
            await asyncio.gather(*refs)
            self.backend.warmup_seconds = time.monotonic() - started

    def _new_actor(self) -> Any:
        """A new actor, told to warm up first (its company's call then waits behind it)."""
        actor = self.actor_class.remote()
        self.actors.add(actor)
        self.owners[actor] = new_ticket()
        self.warming.append(actor.warm.remote(self.settings.config))
        if self.backend.on_launch is not None:
            self.backend.on_launch(None, actor)
        return actor

    def _replace(self, actor: Any) -> Any:
        """Kill `actor`; the new one in its place (one for all its companies), None when stopping."""
        if actor not in self.replacements:
            ray.kill(actor)
            self._abandon(actor)
            self.actors.discard(actor)
            self.replacements[actor] = None if self.stopping else self._new_actor()
        return self.replacements[actor]

    def _abandon(self, actor: Any) -> None:
        """Tell the ledger that `actor` is dead: its holds can no longer be settled by it."""
        if self.ledger_actor is not None:
            self.ledger_actor.abandon.remote(self.owners[actor])

    def _submit(self, index: int, actor: Any) -> None:
        idea = self.ideas[index]
        shared = str(self.workspace) if self.options.shared_workspace else None
        local = self.workspace / idea.project_name
        seed = pack(local) if shared is None and local.is_dir() else None
        budget = (self.ledger_actor, self.epoch, self.owners[actor]) if self.ledger_actor is not None else None
        ref = actor.run.options(max_task_retries=0).remote(idea, self.settings, shared, budget, seed, self.batch_id)
        self.pending[ref] = (index, actor)
        self.tracker.started(index)

    def _collect(self, ref: Any) -> Any:
        """Take one finished call; returns an actor free for the next company, or None (the
        company was sent again, to the same actor or to a new one in a dead one's place)."""
        index, actor = self.pending.pop(ref)
        idea = self.ideas[index]
        free = actor
        try:
            result, data = ray.get(ref)
        except ActorUnavailableError:  # briefly unreachable: the same life, asked again
            self.unavailable[index] += 1
            if self.unavailable[index] <= UNAVAILABLE_RETRIES:
                time.sleep(0.1 * self.unavailable[index])
                self._submit(index, actor)
                return None
            result, data = self._failed(idea, "its worker stayed unreachable")
            free = self._replace(actor)
        except RayActorError as exc:  # the actor died: a new one resumes the company from its journal
            free = self._replace(actor)
            self.restarts[index] += 1
            if self.restarts[index] <= self.options.max_restarts and free is not None:
                self._submit(index, free)
                return None
            result, data = self._failed(idea, f"its worker died {self.restarts[index]} times ({type(exc).__name__})")
        except RayError as exc:  # the call raised (the actor lives on), or Ray failed otherwise
            result, data = self._failed(idea, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            free = actor if isinstance(exc, RayTaskError) else self._replace(actor)
        if data is not None:
            unpack(data, self.workspace, idea.project_name)
        result.project = str(self.workspace / idea.project_name)
        result.restarts = self.restarts[index] + self.unavailable[index]
        self.results[index] = result
        self.tracker.ended(index, result)
        return free

    @staticmethod
    def _failed(idea: Idea, error: str) -> tuple[CompanyResult, None]:
        return CompanyResult(idea.idea, idea.project_name, status=FAILED, exit_code=1, error=error), None

    async def _meter(self) -> None:
        """Keep the tracker told what each running company has spent (until cancelled)."""
        while True:
            await asyncio.sleep(METER_EVERY)
            actors = list({actor for _, actor in self.pending.values()})
            readings = await asyncio.gather(*(actor.spent.remote() for actor in actors), return_exceptions=True)
            spent = {}
            for reading in readings:
                if isinstance(reading, dict):
                    spent.update(reading)
            for index, _ in list(self.pending.values()):
                if self.ideas[index].project_name in spent:
                    self.tracker.live(index, spent[self.ideas[index].project_name])

    async def _stop_all(self) -> None:
        """Ctrl-C: stop every running company, and keep the files they send back."""
        self.stopping = True
        for actor in {actor for _, actor in self.pending.values()}:
            actor.stop.remote()
        deadline = time.monotonic() + STOP_GRACE
        while self.pending and time.monotonic() < deadline:
            ready, _ = await asyncio.to_thread(ray.wait, list(self.pending), num_returns=1, timeout=0.5)
            for ref in ready:
                with contextlib.suppress(Exception):
                    self._collect(ref)
