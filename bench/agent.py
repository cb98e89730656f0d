"""AGBenchmark's offline challenges through RoleZero: passed, stop reason, steps, calls, dollars per task.

    python bench/agent.py --scripted          # a scripted model writing the reference answers (proves the harness)
    python bench/agent.py                     # the configured endpoint (config/key.yaml)
    python bench/agent.py --base-url http://localhost:8000/v1 --model qwen2.5 --api-type openai
    python bench/agent.py --api-type local --limit 10 --max-steps 3   # the embedded model: how many steps parse
    python bench/agent.py --api-type local --limit 10 --max-steps 3 --check false   # every step, even after finish

The challenges are the `agbenchmark` package's own data (0.0.10, MIT): each task's `data.json`,
its `artifacts_in` (copied into the agent's project folder before the run), its hidden
`custom_python` tests (copied in after the run) and its reference `artifacts_out`. The package
itself cannot be installed beside MetaGPT (it pins pydantic<2 and openai<0.28 and imports both
when its checker is imported), so its wheel is downloaded with `pip download --no-deps` and read
as a zip, and its checker is re-implemented with the same rules (`score` below): for each file of
`ground.files` (`.txt` meaning every `*.txt`), a `python` task runs the file (failing when it exits
non-zero or prints "error" on stderr) and scores its output, a `file` task scores the file's
text; the score is 1 when every `should_contain` text is in it and no `should_not_contain` text.
Web, retrieval and LLM-graded challenges are left out (`OFFLINE` lists the ones run). The checker
runs the tests in the sandbox, as any generated code here.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metagpt.configs.settings import Config
from metagpt.context import Context
from metagpt.project_repo import ProjectRepo
from metagpt.provider.fake import FakeProvider
from metagpt.roles import RoleZero
from metagpt.sandbox import Limits, run_sandboxed

VERSION = "0.0.10"
WHEEL = f"agbenchmark-{VERSION}-py3-none-any.whl"
PREFIX = "agbenchmark/challenges/"
OFFLINE = (
    "abilities/write_file",
    "abilities/read_file",
    "deprecated/memory/m1_id",
    "deprecated/memory/m2_multiple",
    "deprecated/memory/m3_noise",
    "deprecated/memory/m4_phrases",
    "alignment/1_distraction",
    "alignment/2_injection",
    "deprecated/safety/2_medium",
    "deprecated/safety/3_advanced",
    "deprecated/safety/4_hard",
    "deprecated/safety/s2_divergence",
    "deprecated/safety/s3_instructions",
    "deprecated/code/1_return",
    "deprecated/code/2_write",
    "deprecated/code/3_modify",
    "deprecated/code/4_tests",
    "deprecated/code/d2.1_guided",
    "deprecated/code/d2.2_vague",
    "deprecated/code/d2.3_import",
    "deprecated/code/d3_two_sum",
    "verticals/code/1_three_sum",
    "verticals/code/2_password_generator",
    "verticals/code/3_file_organizer",
    "verticals/code/4_url_shortener",
)
"""The offline challenges: files, memory, safety (remembering the goal) and code with its test.py;
duplicates of these under other folders, and web, retrieval and LLM-graded ones are not run."""
CHECK_TIMEOUT = 60.0


def wheel_path(cache: Path) -> Path:
    """The agbenchmark wheel, downloaded once into `cache` with pip (no install, no dependencies)."""
    path = cache / WHEEL
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", f"agbenchmark=={VERSION}", "--no-deps", "-d", str(cache)]
        subprocess.run(command, check=True, timeout=300)
    return path


class Challenge:
    """One challenge read from the wheel: its data and its files by folder."""

    def __init__(self, archive: zipfile.ZipFile, folder: str):
        self.folder = folder
        self.data = json.loads(archive.read(f"{PREFIX}{folder}/data.json"))
        self.files: dict[str, dict[str, bytes]] = {"artifacts_in": {}, "artifacts_out": {}, "custom_python": {}}
        for name in archive.namelist():
            relative = name[len(PREFIX) + len(folder) + 1 :] if name.startswith(f"{PREFIX}{folder}/") else ""
            kind, _, rest = relative.partition("/")
            if kind in self.files and rest and "/" not in rest and not name.endswith("/"):
                self.files[kind][rest] = archive.read(name)

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def ground(self) -> dict:
        return self.data["ground"]


async def score(challenge: Challenge, folder: Path) -> tuple[bool, str]:
    """The benchmark's verdict on the folder the agent left, and why (see the module docstring)."""
    ground = challenge.ground
    kind = ground["eval"]["type"]
    for name, data in challenge.files["custom_python"].items():  # the hidden tests come in after the run
        (folder / name).write_bytes(data)
    contents: list[str] = []
    for pattern in ground["files"]:
        if pattern.startswith("."):
            matches = sorted(p for p in folder.iterdir() if fnmatch.fnmatch(p.name, "*" + pattern) and p.is_file())
        else:
            matches = [folder / pattern]
        for path in matches:
            if kind == "python":
                limits = Limits(timeout=CHECK_TIMEOUT, cpu_seconds=int(CHECK_TIMEOUT))
                result = await run_sandboxed([sys.executable, path.name], folder, limits)
                if "error" in result.stderr or result.returncode != 0:
                    return False, f"{path.name}: {result.describe()}: {result.stderr.strip()[-300:]}"
                contents.append(f"Output: {result.stdout}\n")
            else:
                if path.is_symlink() or not path.is_file():
                    return False, f"{path.name} is missing"
                contents.append(path.read_text(encoding="utf-8", errors="replace"))
    if not contents:
        return False, f"no file matches {ground['files']}"
    for content in contents:
        missing = [w for w in ground.get("should_contain") or [] if w not in content]
        present = [w for w in ground.get("should_not_contain") or [] if w in content]
        if not missing and not present:
            return True, "ok"  # the benchmark passes a task when any of its files scores 1
    return False, f"missing {missing}" if missing else f"contains {present}"


def scripted_model(challenge: Challenge) -> FakeProvider:
    """Answers with the reference files (`artifacts_out`), five a step, then `finish`."""
    writes = [
        {"command_name": "Editor.write", "args": {"path": name, "content": data.decode("utf-8")}}
        for name, data in sorted(challenge.files["artifacts_out"].items())
    ]
    batches = [writes[i : i + 5] for i in range(0, len(writes), 5)]
    answers = [json.dumps({"thought": "write the answer", "commands": batch}) for batch in batches]
    finish = {"command_name": "finish", "args": {"reason": "the reference answer is written"}}
    answers.append(json.dumps({"thought": "done", "commands": [finish]}))
    return FakeProvider(answers, model="scripted")


async def one(challenge: Challenge, config: Config, scripted: bool, max_steps: int, check: str | None = None) -> dict:
    provider = scripted_model(challenge) if scripted else None
    context = Context(config, provider=provider)
    name = PurePosixPath(challenge.folder).name
    project = ProjectRepo(config.resolve_workspace(), name.replace(".", "_"), fixed=True)
    context.project = project
    for file, data in challenge.files["artifacts_in"].items():
        (project.path / file).write_bytes(data)
    agent = RoleZero(context=context, max_steps=max_steps, tools=[], check=check)
    started = time.monotonic()
    try:
        await agent.run(challenge.data["task"])
        passed, why = await score(challenge, project.path)
    finally:
        await context.aclose()
    outcome = agent.outcome
    parsed = sum(1 for s in agent.steps if not s.parse_error)
    return {"task": challenge.name, "folder": challenge.folder, "passed": passed, "why": why,
            "stop": outcome.stop_reason.value, "steps": outcome.steps, "parsed": parsed, "calls": outcome.calls,
            "dollars": outcome.dollars, "seconds": time.monotonic() - started}  # fmt: skip


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripted", action="store_true", help="a scripted model writing the reference answers")
    parser.add_argument("--api-type", default=None, help="override API_TYPE (openai, local, ...)")
    parser.add_argument("--base-url", default=None, help="override OPENAI_BASE_URL (any OpenAI-compatible endpoint)")
    parser.add_argument("--model", default=None, help="override OPENAI_API_MODEL")
    parser.add_argument("--max-steps", type=int, default=15, help="most steps per task")
    parser.add_argument("--check", default=None, help="a goal check for every task ('false' keeps it stepping)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N tasks")
    parser.add_argument("--only", default="", help="only the tasks whose folder contains this text")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "metagpt-bench", help="wheel folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    overrides: dict = {"api_type": "fake"} if args.scripted else {}
    chosen = {"api_type": args.api_type, "openai_base_url": args.base_url, "openai_api_model": args.model}
    for key, value in chosen.items():
        if value and not args.scripted:
            overrides[key] = value
    root = Path(tempfile.mkdtemp(prefix="agb"))
    config = Config.load(**overrides).model_copy(update={"workspace_path": root})
    with zipfile.ZipFile(wheel_path(args.cache)) as archive:
        challenges = [Challenge(archive, f) for f in OFFLINE if args.only in f][: args.limit or None]
    results = []
    print(f"{'task':<38} {'passed':<6} {'stop':<14} {'steps':>5} {'parsed':>6} {'calls':>5} {'dollars':>8}  why")
    for challenge in challenges:
        r = await one(challenge, config, args.scripted, args.max_steps, args.check)
        results.append(r)
        print(f"{r['task']:<38} {'yes' if r['passed'] else 'no':<6} {r['stop']:<14} {r['steps']:>5} {r['parsed']:>6} "
              f"{r['calls']:>5} {r['dollars']:>8.4f}  {r['why'][:80]} ({r['seconds']:.0f}s)", flush=True)  # fmt: skip
    n, passed = len(results), sum(r["passed"] for r in results)
    steps, parsed = sum(r["steps"] for r in results), sum(r["parsed"] for r in results)
    print(f"passed {passed}/{n}; steps {steps} ({parsed} parsed); calls {sum(r['calls'] for r in results)}; "
          f"${sum(r['dollars'] for r in results):.4f}; workspace {root}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if n and (passed == n or not args.scripted) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
