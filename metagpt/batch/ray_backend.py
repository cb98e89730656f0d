"""The Ray backend: one actor per company, a ledger actor for the shared budget.

The only module that imports `ray` (`pip install "metagpt[ray]"`).

* Session: with no `address` we start a local cluster and shut it down at the end; with
  `--address auto` or `ray://...` we join a cluster and leave it as it was. A local cluster keeps
  its files under a folder we choose (`temp_dir`, default a new temporary folder), without the
  dashboard; its auth token is passed in the environment (`RAY_AUTH_TOKEN`), so nothing is
  written to `~/.ray` (unless the user configured Ray's authentication: then theirs is used).
* Companies: each runs in an async actor, one company at a time, I/O-bound (no CPU reserved),
  needing one unit of the custom resource `metagpt_company` where the cluster defines it (a node
  offering N runs at most N companies). At most `workers` actors live at once, and an actor whose
  company ended takes the next one (a new process costs seconds); results are collected as they
  finish (`ray.wait`). An actor that dies is restarted by Ray and resumes from the project's journal;
  after `max_restarts` deaths the company is reported as failed and the others go on.
* Files: without a shared workspace, a company works in a scratch folder of its node and sends
  its project back packed; the driver merges it into its workspace. With `shared_workspace`,
  actors write straight into the workspace (a path every node sees).
* Budget: a plain (not async) actor runs the `Ledger`, one method at a time; companies await its
  answers (`await ref`), so no event loop blocks. A dead or restarted ledger refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayError

from metagpt.batch.company import FAILED, INTERRUPTED, BatchOptions, CompanyResult, CompanySettings, run_company
from metagpt.batch.ideas import Idea
from metagpt.batch.ledger import Ledger, LedgerState, new_ticket, refusal, to_micros
from metagpt.batch.transfer import pack, unpack
from metagpt.exceptions import BudgetLedgerUnavailable, UserError

RESOURCE = "metagpt_company"
"""The custom resource limiting companies per node (`ray start --resources='{"metagpt_company": 4}'`)."""
AUTH_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
UNAVAILABLE_RETRIES = 20
"""Times a company's call is sent again to an actor Ray reports as restarting or unreachable."""
STOP_GRACE = 30.0
"""Seconds stopped companies get to end and send their files back after Ctrl-C."""


@contextlib.contextmanager
def ray_session(address: str | None, temp_dir: Path | None, workers: int) -> Iterator[Path | None]:
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
    folder = Path(tempfile.mkdtemp(prefix="metagpt-ray-")) if own_temp else Path(temp_dir)
    saved = {name: os.environ.get(name) for name in AUTH_VARIABLES}
    if all(value is None for value in saved.values()):
        # Token authentication on, with the token in the environment of the processes we start,
        # instead of the file Ray would otherwise create under ~/.ray.
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
        _reload_auth()
    try:
        ray.init(
            _temp_dir=str(folder),
            include_dashboard=False,
            resources={RESOURCE: workers},
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
    from ray._raylet import AuthenticationTokenLoader

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


class RayBudget:
    """A `SharedBudget` on the ledger actor, used inside company actors."""

    def __init__(self, actor: Any, epoch: str):
        self.actor = actor
        self.epoch = epoch

    async def reserve(self, dollars: float) -> str:
        ticket = new_ticket()
        try:
            granted, epoch = await self.actor.reserve.remote(ticket, to_micros(dollars))
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
    """The body of a company actor: runs one company where Ray placed it."""

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None

    async def run(
        self,
        idea: Idea,
        settings: CompanySettings,
        workspace: str | None,
        budget: tuple[Any, str] | None,
        seed: bytes | None,
        batch_id: str,
    ) -> tuple[CompanyResult, bytes | None]:
        """Run the company; returns its result and, without a shared workspace, its project packed."""
        shared = workspace is not None
        root = Path(workspace) if shared else Path(tempfile.gettempdir()) / "metagpt-batch" / batch_id
        if not shared and seed is not None and not (root / idea.project_name).exists():
            unpack(seed, root, idea.project_name)
        ledger = RayBudget(*budget) if budget is not None else None
        self._task = asyncio.ensure_future(run_company(idea, settings, root, ledger))
        try:
            result = await asyncio.shield(self._task)
        except asyncio.CancelledError:
            result = CompanyResult(idea.idea, idea.project_name, status=INTERRUPTED, exit_code=130)
        if ledger is not None:
            with contextlib.suppress(RayError):
                await ledger.flush()
        result.node = ray.get_runtime_context().get_node_id()
        project = root / idea.project_name
        if shared or not project.is_dir():
            return result, None
        data = pack(project)
        shutil.rmtree(project, ignore_errors=True)  # our scratch copy; the driver keeps the project
        with contextlib.suppress(OSError):
            root.rmdir()  # once the batch's last company on this node is done
        return result, data

    async def stop(self) -> None:
        """End the running company as interrupted (Ctrl-C of the batch); `run` then returns."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


class RayBackend:
    """Companies as Ray actors (see the module docstring)."""

    name = "ray"

    def __init__(self, options: BatchOptions | None = None):
        self.options = options or BatchOptions()
        self.ledger_state: LedgerState | None = None
        self.on_launch: Callable[[Idea, Any], None] | None = None
        """Told each company actor as it starts (tests use it to kill one)."""
        self.startup_seconds = 0.0
        self.session_folder: Path | None = None
        """The folder of the local cluster we started (None when we joined one)."""

    async def run(
        self,
        ideas: Sequence[Idea],
        settings: CompanySettings,
        workspace: Path,
        workers: int,
        ledger: Ledger | None,
        on_result: Callable[[CompanyResult], None],
    ) -> list[CompanyResult]:
        options = self.options
        started = time.monotonic()
        try:
            session = ray_session(options.address, options.temp_dir, workers)
            self.session_folder = session.__enter__()
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UserError(f"Cannot start or join Ray ({exc}); check --address, or run without it.") from None
        try:
            self.startup_seconds = time.monotonic() - started
            return await _Driver(self, ideas, settings, workspace, workers, ledger, on_result).run()
        finally:
            session.__exit__(None, None, None)


class _Driver:
    """One batch on Ray: launches actors, collects results, restarts the dead."""

    def __init__(self, backend, ideas, settings, workspace, workers, ledger, on_result):
        self.backend, self.ideas, self.settings = backend, list(ideas), settings
        self.workspace, self.workers, self.ledger, self.on_result = workspace, workers, ledger, on_result
        self.options: BatchOptions = backend.options
        self.results: list[CompanyResult | None] = [None] * len(self.ideas)
        self.restarts = [0] * len(self.ideas)
        self.unavailable = [0] * len(self.ideas)
        self.pending: dict[Any, tuple[int, Any]] = {}
        self.batch_id = new_ticket()[:12]

    async def run(self) -> list[CompanyResult]:
        ledger_actor = None
        if self.ledger is not None:
            ledger_actor = ray.remote(num_cpus=0, max_restarts=0)(Ledger).remote(micros=self.ledger.total)
            state = await ledger_actor.state.remote()
            self.budget: tuple[Any, str] | None = (ledger_actor, state.epoch)
        else:
            self.budget = None
        resources = {RESOURCE: 1} if RESOURCE in ray.cluster_resources() else None
        self.actor_class = ray.remote(num_cpus=0, resources=resources, max_restarts=self.options.max_restarts)(
            CompanyWorker
        )
        queue = list(range(len(self.ideas)))
        try:
            while queue and len(self.pending) < self.workers:
                self._launch(queue.pop(0))
            while self.pending:
                ready, _ = await asyncio.to_thread(ray.wait, list(self.pending), num_returns=1, timeout=0.5)
                for ref in ready:
                    done, actor = self._collect(ref)
                    if not done:
                        continue
                    if queue and actor is not None:
                        self._submit(queue.pop(0), actor)  # a live actor takes the next company
                    else:
                        if actor is not None:
                            ray.kill(actor)
                        if queue:
                            self._launch(queue.pop(0))
        except asyncio.CancelledError:
            await self._stop_all()
            raise
        finally:
            if ledger_actor is not None:
                with contextlib.suppress(RayError):
                    self.backend.ledger_state = await ledger_actor.state.remote()
                ray.kill(ledger_actor)
        return [result for result in self.results if result is not None]

    def _launch(self, index: int) -> None:
        actor = self.actor_class.remote()
        if self.backend.on_launch is not None:
            self.backend.on_launch(self.ideas[index], actor)
        self._submit(index, actor)

    def _submit(self, index: int, actor: Any) -> None:
        idea = self.ideas[index]
        shared = str(self.workspace) if self.options.shared_workspace else None
        local = self.workspace / idea.project_name
        seed = pack(local) if shared is None and local.is_dir() else None
        ref = actor.run.options(max_task_retries=0).remote(
            idea, self.settings, shared, self.budget, seed, self.batch_id
        )
        self.pending[ref] = (index, actor)

    def _collect(self, ref: Any) -> tuple[bool, Any]:
        """Take one finished call: (whether its company is done, else it was resubmitted; the actor
        when it can take another company, None when it was killed)."""
        index, actor = self.pending.pop(ref)
        idea = self.ideas[index]
        broken = True  # unless the actor answered: then it can take another company
        try:
            result, data = ray.get(ref)
            broken = False
        except ActorUnavailableError:  # restarting, or briefly unreachable: the same life, asked again
            self.unavailable[index] += 1
            if self.unavailable[index] <= UNAVAILABLE_RETRIES:
                time.sleep(0.1 * self.unavailable[index])
                self._submit(index, actor)
                return False, actor
            result, data = self._failed(idea, "its worker stayed unreachable")
        except RayActorError as exc:
            self.restarts[index] += 1
            if self.restarts[index] <= self.options.max_restarts:
                self._submit(index, actor)  # Ray restarts the actor; the company resumes from its journal
                return False, actor
            result, data = self._failed(idea, f"its worker died {self.restarts[index]} times ({type(exc).__name__})")
        except RayError as exc:
            result, data = self._failed(idea, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        if data is not None:
            unpack(data, self.workspace, idea.project_name)
        result.project = str(self.workspace / idea.project_name)
        result.restarts = self.restarts[index] + self.unavailable[index]
        if broken:
            ray.kill(actor)
        self.results[index] = result
        self.on_result(result)
        return True, None if broken else actor

    @staticmethod
    def _failed(idea: Idea, error: str) -> tuple[CompanyResult, None]:
        return CompanyResult(idea.idea, idea.project_name, status=FAILED, exit_code=1, error=error), None

    async def _stop_all(self) -> None:
        """Ctrl-C: stop every running company, and keep the files they send back."""
        for _, actor in self.pending.values():
            actor.stop.remote()
        deadline = time.monotonic() + STOP_GRACE
        while self.pending and time.monotonic() < deadline:
            ready, _ = await asyncio.to_thread(ray.wait, list(self.pending), num_returns=1, timeout=0.5)
            for ref in ready:
                self.restarts[self.pending[ref][0]] = self.options.max_restarts  # no restart now
                with contextlib.suppress(Exception):
                    _, actor = self._collect(ref)
                    if actor is not None:
                        ray.kill(actor)
        for _, actor in self.pending.values():
            ray.kill(actor)
