"""What the call journal costs, and how long resuming takes.

1. Per call: the same `LLM.aask` loop on an instant in-process provider, with and without a
   journal (`STATE_DB`): milliseconds added per call, and bytes of database per call.
2. Resume: a 10-file project is run to the end against a loopback server, its last run is then
   marked interrupted, and `SoftwareCompany.resume(...).run()` re-executes it with the journal
   answering: seconds, and requests sent (0 expected).

    python bench/journal.py [--calls 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import metagpt.provider  # noqa: E402
from metagpt.actions import SystemDesign, Tasks  # noqa: E402
from metagpt.configs.settings import Config  # noqa: E402
from metagpt.context import Context  # noqa: E402
from metagpt.llm import LLM  # noqa: E402
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, Usage  # noqa: E402
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager  # noqa: E402
from metagpt.software_company import SoftwareCompany  # noqa: E402
from tests.e2e.openai_server import OpenAIServer, answer, realistic_reply, requested_document, sample_document  # noqa: E402

FILES = [f"part_{i}.py" for i in range(9)] + ["main.py"]


class Instant(Provider):
    model = "gpt-4o-mini"
    priced = True

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(text="ok " * 50, usage=Usage(prompt_tokens=200, completion_tokens=50), model=self.model)


async def per_call(calls: int, folder: Path) -> dict[str, float]:
    prompt = "Write a haiku about journals. " * 20

    async def loop(config: Config) -> float:
        llm = LLM(Context(config, provider=Instant()), role="Bench")
        await llm.aask(prompt)  # warm up tiktoken and the database
        started = time.perf_counter()
        for i in range(calls):
            await llm.aask(f"{prompt} {i}")
        return (time.perf_counter() - started) / calls * 1000

    plain = await loop(Config(api_type="fake", max_budget=1000))
    db = folder / "state.db"
    journaled = await loop(Config(api_type="fake", max_budget=1000, state_db=db))
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return {
        "ms_per_call_plain": plain,
        "ms_per_call_journaled": journaled,
        "ms_added_per_call": journaled - plain,
        "bytes_per_call": db.stat().st_size / (calls + 1),
    }


def ten_files(body):
    document = requested_document(body)
    if document is SystemDesign:
        return answer(json.dumps({**sample_document(SystemDesign), "file_list": FILES}))
    if document is Tasks:
        logic = [{"file": name, "description": f"{name}: one helper"} for name in FILES]
        return answer(json.dumps({**sample_document(Tasks), "task_list": FILES, "logic_analysis": logic}))
    return realistic_reply(body)


async def resume_time(folder: Path) -> dict[str, float]:
    with OpenAIServer(ten_files) as server:
        config = Config(
            openai_base_url=server.base_url,
            openai_api_key="sk-bench",
            openai_api_model="gpt-4o-mini",
            workspace_path=folder / "workspace",
            mermaid_engine="none",
        )
        company = SoftwareCompany(config)
        company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
        started = time.perf_counter()
        await company.run(n_round=5, idea="a command-line snake game")
        first = time.perf_counter() - started
        await company.context.aclose()
        project, calls = company.project.path, len(server.requests)
        db = sqlite3.connect(project / ".metagpt" / "state.db")
        db.execute("UPDATE runs SET status = 'interrupted'")
        db.commit()
        db.close()

        started = time.perf_counter()
        resumed = SoftwareCompany.resume(project, config)
        await resumed.run()
        again = time.perf_counter() - started
        await resumed.context.aclose()
        code_files = len(list((project / project.name).glob("*.py")))
        return {
            "first_run_s": first,
            "calls": calls,
            "code_files": code_files,
            "resume_s": again,
            "requests_on_resume": len(server.requests) - calls,
        }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    metagpt.provider.ALLOW_MODEL_REQUESTS = True
    from metagpt.logs import setup_console

    setup_console(False)
    from loguru import logger

    logger.remove()
    with TemporaryDirectory() as tmp:
        costs = await per_call(args.calls, Path(tmp))
        resume = await resume_time(Path(tmp))
    print(f"journal: {args.calls} calls on an instant provider")
    print(f"  without journal   {costs['ms_per_call_plain']:.3f} ms/call")
    print(f"  with journal      {costs['ms_per_call_journaled']:.3f} ms/call")
    print(f"  added             {costs['ms_added_per_call']:.3f} ms/call (target < 5)")
    print(f"  database          {costs['bytes_per_call']:.0f} bytes/call")
    print(f"resume of a finished {resume['code_files']}-file project ({resume['calls']} calls)")
    print(f"  first run         {resume['first_run_s']:.2f} s")
    print(f"  resume            {resume['resume_s']:.2f} s, {resume['requests_on_resume']} requests sent")


if __name__ == "__main__":
    asyncio.run(main())
