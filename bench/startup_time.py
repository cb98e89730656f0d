"""Start-up cost: `python startup.py --help` and importing `SoftwareCompany`.

Prints the median and best wall time of several fresh interpreter runs. Targets: --help under
0.5 s, the import under 0.3 s.
"""

from __future__ import annotations

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
    "python -c pass (interpreter baseline)": [sys.executable, "-c", "pass"],
}


def measure(command: list[str]) -> list[float]:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def heavy_modules_loaded() -> list[str]:
    code = (
        "import sys; from metagpt.software_company import SoftwareCompany; "
        "print(','.join(m for m in ('openai','tiktoken','llama_cpp','faiss','httpx','tenacity') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return [m for m in out.stdout.strip().split(",") if m]


def main() -> None:
    print(f"{'case':42} {'median':>8} {'best':>8}  ({RUNS} runs)")
    for name, command in CASES.items():
        times = measure(command)
        print(f"{name:42} {statistics.median(times):8.3f} {min(times):8.3f}")
    print(f"heavy modules loaded by the import: {heavy_modules_loaded() or 'none'}")


if __name__ == "__main__":
    main()
