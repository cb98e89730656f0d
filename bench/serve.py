"""What `metagpt serve` costs: page time, journal step to browser event, memory.

A project of 50 code files (with its documents, 120 journaled calls and a 6-commit history)
is written into a temporary workspace, and `metagpt serve` is started on it as a user starts
it (its own process, loopback port):

1. page time: each page and API answer fetched 30 times over loopback (p50/p95 wall time
   at the client, which bounds the server's time from above);
2. step to event: with the project "running" (this process holds its lock and journals into
   it, as a CLI run does), a call is written to the journal and timed until its `call`
   event arrives on an open event stream, 30 times; and the server's CPU while the streams
   are open and nothing happens;
3. memory: the server's RSS idle (after every page was served), and with 20 event streams
   open on the running project while steps are written.

    python bench/serve.py [--files 50] [--clients 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metagpt.journal import Journal  # noqa: E402
from metagpt.journal.lock import ProjectLock  # noqa: E402
from metagpt.journal.store import CallEnd, CallStart  # noqa: E402

TARGETS = {"page_ms": 100.0, "event_ms": 500.0, "rss_mb": 120.0}


def make_project(root: Path, files: int) -> None:
    """A finished project: code files, documents, a journal of calls and a git history."""
    package = root / "game"
    package.mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "resources").mkdir()
    body = "\n".join(f"def step_{i}(x: int) -> int:\n    return x + {i}\n\n" for i in range(40))
    for i in range(files):
        (package / f"part_{i:02d}.py").write_text(f'"""Part {i} of the game."""\n\n{body}')
    sections = "\n".join(f"## Section {i}\n\n" + "A line of the document with **bold** text.\n" * 8 for i in range(12))
    diagram = "quadrantChart\n    title Reach\n    x-axis Low --> High"
    chart = f"```mermaid\n{diagram}\n```\n"
    for doc in ("prd", "system_design", "api_spec_and_tasks"):
        (root / "docs" / f"{doc}.md").write_text(f"# {doc}\n\n{sections}\n{chart}")
    (root / "resources" / "competitive_analysis.mmd").write_text(diagram)
    journal = Journal(root / ".metagpt" / "state.db")
    journal.start_run("a bench game", {}, 3.0)
    for i in range(120):
        role, action = [("Product Manager", "WritePRD"), ("Architect", "WriteDesign"), ("Engineer", "WriteCode")][
            min(i // 10, 2)
        ]
        call = journal.begin(_start(role, action, f"game/part_{i % files:02d}.py", i))
        journal.finish(call, CallEnd("ok", {"text": "ok"}, prompt_tokens=900, completion_tokens=300, cost=0.0003,
                                     latency_ms=800.0))  # fmt: skip
    journal.end_run("finished")
    journal.close()
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True)
    (root / ".gitignore").write_text("/.metagpt/\n")
    for n, part in enumerate(("docs", "resources", "game", ".gitignore")):
        subprocess.run([*git, "add", part], check=True)
        subprocess.run([*git, "commit", "-qm", f"Stage {n}: {part}"], check=True)
    for n in range(2):
        (package / "part_00.py").write_text(f"# revision {n}\n{body}")
        subprocess.run([*git, "commit", "-qam", f"Engineer: WriteCode revision {n}"], check=True)


def _start(role: str, action: str, target: str, i: int) -> CallStart:
    request = {"messages": [{"role": "user", "content": f"bench call {i}"}]}
    return CallStart(role, action, target, "gpt-4o-mini", "openai", "http://127.0.0.1", f"k{i}", f"h{i}", request)


def start_server(workspace: Path) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "metagpt", "serve", "--port", "0", "--workspace", str(workspace)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    line = process.stdout.readline()
    return process, int(line.rsplit(":", 1)[1].strip("/\n"))


def fetch(port: int, path: str) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
    response = connection.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    assert response.status == 200, (path, response.status)
    return elapsed


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * pct / 100) - 1))]


class Stream(threading.Thread):
    """One open event stream; records when each `call` event arrives, by call id."""

    def __init__(self, port: int, name: str):
        super().__init__(daemon=True)
        self.port, self.name = port, name
        self.arrived: dict[int, float] = {}
        self.ready = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        connection.request("GET", f"/api/projects/{self.name}/events", headers={"Host": f"127.0.0.1:{self.port}"})
        response = connection.getresponse()
        kind = ""
        while True:
            line = response.fp.readline()
            if not line:
                return
            text = line.decode().rstrip("\n")
            if text.startswith("event: "):
                kind = text[7:]
                self.ready.set()
            elif text.startswith("data: ") and kind == "call":
                self.arrived[json.loads(text[6:])["id"]] = time.perf_counter()
            elif text.startswith("data: ") and kind == "done":
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    with TemporaryDirectory() as folder:
        workspace = Path(folder) / "workspace"
        root = workspace / "bench"
        make_project(root, args.files)
        process, port = start_server(workspace)
        try:
            pages = {
                "project page": "/projects/bench",
                "projects page": "/",
                "PRD page": "/projects/bench/docs/prd.md",
                "code page": "/projects/bench/code/game/part_07.py",
                "project API": "/api/projects/bench",
            }
            times = {}
            for label, path in pages.items():
                fetch(port, path)  # warm up imports and caches
                times[label] = [fetch(port, path) for _ in range(30)]
            idle = rss_mb(process.pid)

            lock = ProjectLock(root / ".metagpt")  # as a CLI run holds it
            lock.acquire()
            journal = Journal(root / ".metagpt" / "state.db")
            journal.start_run("a bench game", {}, 3.0)
            streams = [Stream(port, "bench") for _ in range(args.clients)]
            for stream in streams:
                stream.start()
            for stream in streams:
                stream.ready.wait(30)
            time.sleep(1.0)  # every stream has sent the project's history
            before, started_idle = cpu_seconds(process.pid), time.perf_counter()
            time.sleep(5.0)  # nothing happens: what watching costs
            idle_cpu = (cpu_seconds(process.pid) - before) / (time.perf_counter() - started_idle) * 100
            written: dict[int, float] = {}
            peak = rss_mb(process.pid)
            for i in range(30):
                started = time.perf_counter()
                call = journal.begin(_start("Engineer", "WriteCode", "game/part_01.py", 1000 + i))
                journal.finish(call, CallEnd("ok", {"text": "ok"}, prompt_tokens=900, completion_tokens=300))
                written[call] = started
                time.sleep(0.3)
                peak = max(peak, rss_mb(process.pid))
            time.sleep(1.0)
            latencies = [
                (stream.arrived[call] - at) * 1000 for stream in streams for call, at in written.items()
                if call in stream.arrived
            ]  # fmt: skip
            missing = sum(1 for stream in streams for call in written if call not in stream.arrived)
            journal.end_run("finished")
            journal.close()
            lock.release()
        finally:
            process.terminate()
            process.wait(10)

    print(f"metagpt serve, a project of {args.files} code files, 120 calls, 6 commits "
          f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})\n")  # fmt: skip
    print("| measure | p50 | p95 | target |\n| --- | --- | --- | --- |")
    for label, values in times.items():
        print(f"| {label} (ms, client wall time) | {statistics.median(values):.1f} | {p(values, 95):.1f} | "
              f"< {TARGETS['page_ms']:.0f} |")  # fmt: skip
    print(f"| journal step -> event, {args.clients} streams open (ms) | {statistics.median(latencies):.0f} | "
          f"{p(latencies, 95):.0f} | < {TARGETS['event_ms']:.0f} |")  # fmt: skip
    print(f"| server CPU, {args.clients} streams open, nothing happening (% of a core) | {idle_cpu:.1f} | | |")
    print(f"| server RSS idle (MB) | {idle:.1f} | | < {TARGETS['rss_mb']:.0f} |")
    print(f"| server RSS, {args.clients} streams open (MB, peak) | {peak:.1f} | | < {TARGETS['rss_mb']:.0f} |")
    print(f"\n{len(latencies)} events timed, {missing} missing.")


if __name__ == "__main__":
    main()
