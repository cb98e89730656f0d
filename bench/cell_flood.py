"""A cell that floods its output: the CLI's peak memory, the time to stop it, what is kept.

    python bench/cell_flood.py                 # 300 MB of output, under bubblewrap when it can run
    python bench/cell_flood.py --mb 200 --sandbox none

Runs `metagpt agent` as its own process against a loopback model whose first answer is a
`Python.run` printing `--mb` megabytes (lines of 1,000 characters), then a cell printing
`after`, then `finish`. Prints the CLI's peak RSS (VmHWM, sampled from /proc while it runs and
read as the maximum it reached), its wall time, the size of `notebook.ipynb` and `steps.jsonl`,
and whether the next cell ran. Targets (issue: bounded output): peak RSS under 300 MB and the
notebook under 2 MB for a 300 MB flood.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchlib import status_mb  # noqa: E402
from tests.e2e.openai_server import OpenAIServer, answer  # noqa: E402


def command(name: str, **args: str) -> object:
    return answer(json.dumps({"thought": "next", "commands": [{"command_name": name, "args": args}]}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300, help="megabytes the cell prints")
    parser.add_argument("--sandbox", default="auto", help="SANDBOX for the run: auto, bwrap or none")
    args = parser.parse_args()
    workspace = Path(tempfile.mkdtemp(prefix="flood"))
    flood = f"for i in range({args.mb * 1000}):\n    print('x' * 999)\n"
    try:
        with OpenAIServer() as server:
            server.plan(
                command("Python.run", code=flood),
                command("Python.run", code="print('after')"),
                command("finish", reason="done"),
            )
            env = {
                "PATH": "/usr/bin:/bin", "HOME": str(workspace), "PYTHONPATH": str(ROOT),
                "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-bench-0123456789abcdef",
                "OPENAI_API_MODEL": "gpt-4o-mini", "WORKSPACE_PATH": str(workspace), "SANDBOX": args.sandbox,
                "MERMAID_ENGINE": "none",
            }  # fmt: skip
            cli = [
                sys.executable,
                "-c",
                "from metagpt.cli import main; main()",
                "agent",
                "flood",
                "--project-name",
                "p",
            ]
            started = time.monotonic()
            process = subprocess.Popen(
                cli, env=env, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            peak = 0.0
            while process.poll() is None:
                try:
                    peak = max(peak, status_mb("VmHWM", process.pid))
                except OSError:
                    break
                time.sleep(0.05)
            _, stderr = process.communicate()
            seconds = time.monotonic() - started
        folder = workspace / "p"
        steps = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()]
        notebook = folder / "notebook.ipynb"
        after = any("after" in o.get("output", "") for step in steps[1:] for o in step.get("observations", []))
        print(f"flood: {args.mb} MB printed by one cell, sandbox {args.sandbox}; exit code {process.returncode}")
        print(f"CLI peak RSS: {peak:.0f} MB (target < 300 MB); wall time {seconds:.1f} s")
        size = notebook.stat().st_size if notebook.exists() else 0
        print(f"notebook.ipynb: {size / 1e6:.2f} MB (target < 2 MB); steps.jsonl: "
              f"{(folder / 'steps.jsonl').stat().st_size / 1e3:.0f} kB")  # fmt: skip
        first = steps[0]["observations"][0]["output"]
        print(f"first cell: {'stopped as a flood' if 'OutputFlood' in first else 'NOT stopped'}; "
              f"next cell ran: {after}")  # fmt: skip
        if process.returncode != 0:
            print(stderr[-2000:])
        return 0 if process.returncode == 0 and peak < 300 and size < 2e6 and after else 1
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
