"""Speed and memory of the embedded local model (`API_TYPE: local`, SmolLM2-135M by default).

Prints the model load time, then for one plain and one structured (PRD-shaped) request the
prompt-evaluation and generation speed in tokens per second, then the peak RSS. With
`--company`, also times a whole software-company run on the local model.

    python bench/local_model.py [--company] [--n-ctx N] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402

from metagpt.configs.settings import Config  # noqa: E402
from metagpt.exceptions import MetaGPTError  # noqa: E402
from metagpt.provider.base import ModelRequest, OutputSchema  # noqa: E402
from metagpt.provider.local_llama import LocalLlamaProvider  # noqa: E402
from metagpt.utils.structured import format_instructions  # noqa: E402

IDEA = "a command-line snake game"
REQUIREMENTS = (
    "We want a command-line snake game for the terminal. The snake moves on a grid, grows when it eats "
    "food, and the game ends when it hits a wall or itself. The player steers with the arrow keys, the "
    "speed rises with the score, the best score is saved to a file, and the game can be paused. It must "
    "run on Linux, macOS and Windows with Python 3.10 or newer and no dependencies beyond curses. "
)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def structured_model() -> type[BaseModel]:
    """The PRD action's output model; a small stand-in when the actions are not there."""
    try:
        from metagpt.actions.write_prd import PRD

        return PRD
    except ImportError:

        class Plan(BaseModel):
            product_goals: list[str]
            user_stories: list[str]

        return Plan


async def run_request(provider: LocalLlamaProvider, label: str, request: ModelRequest) -> None:
    """One request, with this request's share of the provider's speed counters."""
    before = (
        provider.prompt_tokens_evaluated,
        provider.prompt_seconds,
        provider.generated_tokens,
        provider.generation_seconds,
    )
    started = time.perf_counter()
    response = await provider.complete(request)
    wall = time.perf_counter() - started
    prompt_tokens = provider.prompt_tokens_evaluated - before[0]
    prompt_seconds = provider.prompt_seconds - before[1]
    generated = provider.generated_tokens - before[2]
    generation_seconds = provider.generation_seconds - before[3]
    print(
        f"{label:>10}: {wall:6.2f}s | prompt {response.usage.prompt_tokens} tokens, "
        f"eval {prompt_tokens / prompt_seconds if prompt_seconds else 0:7.1f} tok/s | "
        f"generated {generated} tokens, {generated / generation_seconds if generation_seconds else 0:5.1f} tok/s | "
        f"finish {response.finish_reason}"
    )


async def bench_requests(config: Config) -> None:
    provider = LocalLlamaProvider.from_config(config)
    started = time.perf_counter()
    loaded = await provider.preload()
    print(f"model: {provider.model_path.name} ({provider.model_path.stat().st_size / 2**20:.0f} MiB)")
    print(f"context: {loaded.n_ctx} tokens (trained with {loaded.n_ctx_train}), threads: {provider.n_threads}")
    print(f"load time: {time.perf_counter() - started:.2f}s (llama.cpp {loaded.load_seconds:.2f}s)")

    system = {"role": "system", "content": "You are a product manager. Be concise."}
    plain = ModelRequest(
        messages=[system, {"role": "user", "content": REQUIREMENTS * 3 + "List the three most important features."}],
        max_tokens=128,
    )
    await run_request(provider, "plain", plain)

    model = structured_model()
    instruction = f"Write the {model.__name__} for {IDEA}.\n{REQUIREMENTS}\n{format_instructions(model)}"
    structured = ModelRequest(
        messages=[system, {"role": "user", "content": instruction}],
        max_tokens=config.local_max_tokens,
        output_schema=OutputSchema.of(model),
    )
    await run_request(provider, "structured", structured)
    print(f"peak RSS: {peak_rss_mb():.0f} MiB")


# -- the whole company -------------------------------------------------------------------------


def company_run_seconds(config: Config, n_round: int = 5) -> float | None:
    """Wall time of one whole software-company run on the local model, or None without the company."""
    try:
        from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
        from metagpt.software_company import SoftwareCompany
    except ImportError:
        print("company run: not available")
        return None
    with tempfile.TemporaryDirectory() as workspace:
        company = SoftwareCompany(config.model_copy(update={"workspace_path": Path(workspace)}))
        company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
        company.invest(3.0)
        company.start_project(IDEA)
        started = time.perf_counter()
        outcome = "done"
        try:
            asyncio.run(company.run(n_round=n_round))
        except MetaGPTError as exc:  # a bench reports how far the run got
            outcome = f"stopped by {type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        provider: Any = company.context.provider
        written = [path for path in company.project.path.rglob("*") if path.is_file()]
    print(
        f"company run: {elapsed:.1f}s, {outcome}; {provider.generated_tokens} tokens generated at "
        f"{provider.generation_tokens_per_second:.1f} tok/s; {len(written)} files written"
    )
    print(f"peak RSS: {peak_rss_mb():.0f} MiB")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", action="store_true", help="also time a whole company run (minutes)")
    parser.add_argument("--n-ctx", type=int, default=0, help="context size; 0 = the model's training context")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads; default all cores")
    args = parser.parse_args()
    config = Config(api_type="local", local_n_ctx=args.n_ctx, local_n_threads=args.threads)
    asyncio.run(bench_requests(config))
    if args.company:
        company_run_seconds(config)


if __name__ == "__main__":
    main()
