"""Start-up cost: `python startup.py --help`, `import metagpt` and importing `SoftwareCompany`.

Prints the median and best wall time, and the median CPU time (robust to a loaded machine), of
several fresh interpreter runs. Targets: --help under 0.5 s, `import metagpt` under 0.3 s. Also
lists the heavy libraries each command imports (none is expected: they load when a run uses them).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7

CASES = {
    "python startup.py --help": [sys.executable, str(ROOT / "startup.py"), "--help"],
    "import SoftwareCompany": [sys.executable, "-c", "from metagpt.software_company import SoftwareCompany"],
    "import metagpt.llm": [sys.executable, "-c", "from metagpt.llm import LLM"],
    "import metagpt": [sys.executable, "-c", "import metagpt"],
    "python -c pass (interpreter baseline)": [sys.executable, "-c", "pass"],
}


def measure(command: list[str], runs: int = RUNS) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (user + system, from `os.wait4`) of `runs` fresh runs of `command`."""
    walls, cpus = [], []
    for _ in range(runs):
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        walls.append(time.perf_counter() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status):
            raise RuntimeError(f"{' '.join(command)} failed")
    return walls, cpus


HEAVY = ("openai", "tiktoken", "llama_cpp", "faiss", "numpy", "httpx", "tenacity", "pypdf", "yaml")
"""Libraries that must be imported only when a run uses them."""


def heavy_modules_loaded(command: list[str] | None = None) -> list[str]:
    """The `HEAVY` libraries `command` imports, read from `python -X importtime` (default: the company)."""
    command = command or [sys.executable, "-c", "from metagpt.software_company import SoftwareCompany"]
    traced = [command[0], "-X", "importtime", *command[1:]]
    out = subprocess.run(traced, cwd=ROOT, check=True, capture_output=True, text=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in imported]


def main() -> None:
    print(f"{'case':42} {'median':>8} {'best':>8} {'CPU':>8}  ({RUNS} runs)")
    for name, command in CASES.items():
        walls, cpus = measure(command)
        print(f"{name:42} {statistics.median(walls):8.3f} {min(walls):8.3f} {statistics.median(cpus):8.3f}")
    for name in ("python startup.py --help", "import metagpt", "import SoftwareCompany"):
        print(f"heavy modules loaded by {name}: {heavy_modules_loaded(CASES[name]) or 'none'}")


if __name__ == "__main__":
    main()
