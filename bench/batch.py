"""Many companies at once: asyncio against Ray, with a latency-bound model.

The model is the loopback server answering every call after a fixed latency (`--latency`), so
a company's time is mostly waiting, as with a remote model. Reported, side by side in one run:

1. companies per minute for 1, 2 and 4 workers on each backend (same ideas, same answers);
2. Ray's start-up: a local `ray.init` of our own, and the warm-up of a batch's pool of actors alone
   (processes started, `warm_up` done), which every batch pays once while its first companies
   wait; then its per-company overhead against asyncio, and whether it meets the target (wall
   time at most 1.1x asyncio's plus that start-up);
3. memory per company: the RSS growth of this process per concurrent company on asyncio, the
   largest RSS of a company actor's process on Ray (it runs up to `pool_shape` companies at once);
4. the shared ledger's round trip: a hold and its commit, in process and through the Ray actor.

    python bench/batch.py [--companies 8] [--latency 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import status_mb  # noqa: E402

from metagpt.batch import run_batch  # noqa: E402
from metagpt.batch.ledger import Ledger, LocalBudget  # noqa: E402
from metagpt.configs.settings import Config  # noqa: E402
from tests.e2e.openai_server import OpenAIServer, realistic_reply  # noqa: E402

IDEAS = [f"a command-line tool number {n} that counts words" for n in range(64)]
WORKERS = (1, 2, 4)


class ActorMemory:
    """Samples the RSS of Ray's company actor processes while a batch runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ActorMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                    if b"CompanyWorker" in cmdline:
                        self.samples.append(status_mb("VmRSS", pid))
                except OSError:
                    continue


async def batch_seconds(backend: str, workers: int, companies: int, config: Config) -> tuple[float, float]:
    """Wall seconds of one batch, and of them the Ray pool's warm-up (0 on asyncio)."""
    runner: object = backend
    if backend == "ray":
        from metagpt.batch.ray_backend import RayBackend

        runner = RayBackend()
    with TemporaryDirectory() as folder:
        started = time.monotonic()
        results = await run_batch(IDEAS[:companies], workers=workers, backend=runner, config=config, workspace=folder)
        seconds = time.monotonic() - started
    bad = [r for r in results if r.status != "done"]
    if bad:
        raise SystemExit(f"{backend}: {bad[0].project_name} ended {bad[0].status}: {bad[0].error}")
    return seconds, getattr(runner, "warmup_seconds", 0.0)


async def pool_warm_up(workers: int, config: Config) -> float:
    """Seconds to start and warm the pool of actors a batch of `workers` starts first."""
    import ray

    from metagpt.batch.ray_backend import CompanyWorker, pool_shape

    started = time.monotonic()
    actors = [ray.remote(num_cpus=0)(CompanyWorker).remote() for _ in range(pool_shape(workers).actors)]
    await asyncio.gather(*(actor.warm.remote(config) for actor in actors))
    seconds = time.monotonic() - started
    for actor in actors:
        ray.kill(actor)
    return seconds


async def ledger_round_trip(calls: int = 500) -> tuple[float, float]:
    """Milliseconds per hold + commit: in process, then through the Ray actor (from the driver)."""
    budget = LocalBudget(Ledger(1e6))
    started = time.perf_counter()
    for _ in range(calls):
        budget.commit(await budget.reserve(0.001), 0.0005)
    local = (time.perf_counter() - started) * 1000 / calls
    import ray

    from metagpt.batch.ray_backend import RayBudget

    actor = ray.remote(num_cpus=0)(Ledger).remote(1e6)
    remote = RayBudget(actor, (await actor.state.remote()).epoch)
    started = time.perf_counter()
    for _ in range(calls):
        remote.commit(await remote.reserve(0.001), 0.0005)
    await remote.flush()
    on_ray = (time.perf_counter() - started) * 1000 / calls
    ray.kill(actor)
    return local, on_ray


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per model call")
    args = parser.parse_args()

    def slow(body):
        time.sleep(args.latency)
        return realistic_reply(body)

    with OpenAIServer(slow) as server:
        config = Config(
            openai_base_url=server.base_url, openai_api_key="sk-bench", openai_api_model="gpt-4o-mini",
            mermaid_engine="none", engineer_concurrency=1,
        )  # fmt: skip
        rows: dict[str, dict[int, float]] = {"asyncio": {}, "ray": {}}
        warm: dict[int, float] = {}
        before = status_mb("VmRSS")
        for workers in WORKERS:
            rows["asyncio"][workers], _ = await batch_seconds("asyncio", workers, args.companies, config)
        asyncio_mb = (status_mb("VmRSS") - before) / max(WORKERS)

        from metagpt.batch.ray_backend import pool_shape, ray_session

        started = time.monotonic()
        with ray_session(None, None):
            startup = time.monotonic() - started
            with ActorMemory() as memory:
                for workers in WORKERS:
                    warm[workers] = await pool_warm_up(workers, config)
                    rows["ray"][workers], _ = await batch_seconds("ray", workers, args.companies, config)
            local_ms, ray_ms = await ledger_round_trip()
            shape = pool_shape(max(WORKERS))
        calls = len(server.requests)

    n = args.companies
    print(f"{n} companies per run, {args.latency:.2f}s per model call, {calls} calls in all, {os.cpu_count()} cores")
    print(f"{'backend':<8} " + "  ".join(f"{w} worker{'s' if w > 1 else ' '}: {'':>12}" for w in WORKERS))
    for name, row in rows.items():
        cells = "  ".join(f"{row[w]:6.1f}s {60 * n / row[w]:6.1f}/min" for w in WORKERS)
        print(f"{name:<8} {cells}")
    for name, row in rows.items():
        print(f"{name}: {row[4] and row[1] / row[4]:.2f}x more companies per minute at 4 workers than at 1")
    print(f"ray start-up: local ray.init {startup:.1f}s; a pool's warm-up", end="")
    print(",".join(f" {warm[w]:.1f}s ({w} worker{'s' if w > 1 else ''})" for w in WORKERS))
    for w in WORKERS:
        extra = rows["ray"][w] - rows["asyncio"][w]
        bound = 1.1 * rows["asyncio"][w] + warm[w]
        print(
            f"ray at {w} worker(s): {rows['ray'][w] / rows['asyncio'][w]:.2f}x asyncio's wall time, "
            f"{'within' if rows['ray'][w] <= bound else 'over'} 1.1x + warm-up ({bound:.1f}s); "
            f"overhead {extra / n:.2f}s per company"
        )
    actor_mb = max(memory.samples) if memory.samples else 0.0
    actors, per_actor, _ = shape
    print(
        f"memory per company: asyncio {asyncio_mb:.0f} MB (RSS growth per concurrent company), "
        f"ray {actor_mb:.0f} MB per actor process ({max(WORKERS)} workers: {actors} actors of {per_actor} companies)"
    )
    print(f"ledger round trip (hold + commit): in process {local_ms:.3f} ms, ray actor {ray_ms:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
