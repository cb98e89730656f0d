"""Start-up cost of the sandbox: what isolating a run with bubblewrap adds (target under 50 ms).

Measures, as medians of N runs each:

1. `bwrap <policy> /bin/true` against `/bin/true`: bubblewrap's own cost (namespaces, mounts);
2. `run_sandboxed([python, "-c", "pass"])` with `SANDBOX: none` and with `bwrap`: the whole
   run as QA sees it (supervisor, limits, output capture, clean-up), and the difference.

    python bench/sandbox.py [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from metagpt.sandbox import Limits, run_sandboxed
from metagpt.sandbox.bwrap import bwrap_argv, bwrap_path, unusable_reason
from metagpt.sandbox.policy import SANDBOX_HOME, build_env, make_policy

TARGET_MS = 50.0


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _time_command(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return samples


async def _time_sandboxed(folder: Path, mode: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await run_sandboxed([sys.executable, "-c", "pass"], folder, Limits(timeout=30), mode=mode)
        samples.append(time.perf_counter() - start)
        if not result.ok:
            raise SystemExit(f"sandboxed run failed ({mode}): {result.describe()}\n{result.stderr}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    reason = unusable_reason()
    print(f"# sandbox start-up ({args.runs} runs each, median; load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="metagpt-bench-") as scratch:
        folder = Path(scratch)
        env = build_env(SANDBOX_HOME, "/tmp")
        true = _median_ms(_time_command(["/bin/true"], env, args.runs))
        print(f"/bin/true                          {true:7.1f} ms")
        if not reason:
            argv = [*bwrap_argv(make_policy(folder), bwrap_path() or "bwrap"), "/bin/true"]
            wrapped = _median_ms(_time_command(argv, env, args.runs))
            print(f"bwrap <policy> /bin/true           {wrapped:7.1f} ms   (bubblewrap adds {wrapped - true:.1f} ms)")
        plain = _median_ms(asyncio.run(_time_sandboxed(folder, "none", args.runs)))
        print(f"run_sandboxed python -c pass, none {plain:7.1f} ms")
        if reason:
            print(f"bwrap not measured: {reason}")
            return
        isolated = _median_ms(asyncio.run(_time_sandboxed(folder, "bwrap", args.runs)))
        added = isolated - plain
        verdict = "met" if added < TARGET_MS else "MISSED"
        print(f"run_sandboxed python -c pass, bwrap{isolated:7.1f} ms")
        print(f"isolation adds                     {added:7.1f} ms   (target < {TARGET_MS:g} ms: {verdict})")


if __name__ == "__main__":
    main()
