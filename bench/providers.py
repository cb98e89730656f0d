"""Each provider's own cost per call, on loopback servers that speak its wire protocol.

    python bench/providers.py [--calls 200]

For every provider with a loopback server in `tests/` (OpenAI, Anthropic, Gemini, Ollama; one
whose SDK is not installed is skipped with a note), `LLM.aask` sends `--calls` requests to a
server that answers at once with the same 60-word text, through the real SDK, with a context of
its own (budget, rate limit, cost, no journal). Prints per provider:

- overhead per call: client wall time of a non-streamed call, median and p95 in ms (the server
  answers at once, so this is the SDK, HTTP on loopback, and our call path around it);
- first token: from the call's start to the first streamed text reaching the stream sink, median
  and p95 in ms; and the whole streamed call.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import metagpt.provider  # noqa: E402
from metagpt.configs.settings import Config  # noqa: E402
from metagpt.context import Context  # noqa: E402
from metagpt.llm import LLM  # noqa: E402

TEXT = " ".join(["word"] * 60)
PROMPT = "Write sixty words. " * 20


def openai_setup() -> tuple[Any, Callable[[Any], Config]]:
    from tests.e2e.openai_server import OpenAIServer, answer

    def config(server: Any) -> Config:
        return Config(openai_base_url=server.base_url, openai_api_key="sk-bench", openai_api_model="gpt-4o-mini")

    return (OpenAIServer(lambda body: answer(TEXT)), config)


def ollama_setup() -> tuple[Any, Callable[[Any], Config]]:
    from tests.providers.ollama_server import OllamaServer, answer

    def config(server: Any) -> Config:
        return Config(api_type="ollama", ollama_host=server.url, openai_api_model="llama3.2")

    return (OllamaServer(lambda body: answer(TEXT)), config)


def anthropic_setup() -> tuple[Any, Callable[[Any], Config]]:
    server_module = importlib.import_module("tests.providers.anthropic_server")

    def config(server: Any) -> Config:
        return Config(api_type="anthropic", anthropic_base_url=server.base_url, anthropic_api_key="sk-ant-bench")

    return (server_module.AnthropicServer(lambda body: server_module.answer(TEXT)), config)


def gemini_setup() -> tuple[Any, Callable[[Any], Config]]:
    server_module = importlib.import_module("tests.providers.gemini_server")

    def config(server: Any) -> Config:
        key = server_module.API_KEY
        return Config(api_type="gemini", gemini_base_url=server.base_url, gemini_api_key=key)

    return (server_module.GeminiServer(lambda body: server_module.answer(TEXT)), config)


SETUPS = {"openai": openai_setup, "anthropic": anthropic_setup, "gemini": gemini_setup, "ollama": ollama_setup}


@contextmanager
def running(server: Any) -> Iterator[Any]:
    with server:
        yield server


async def measure(config: Config, calls: int) -> dict[str, list[float]]:
    first: list[float] = []
    started = 0.0

    def sink(delta: str) -> None:
        if delta and len(first) < len(streamed) + 1:
            first.append((time.perf_counter() - started) * 1000)

    context = Context(config.model_copy(update={"max_budget": 1_000_000.0}))
    llm = LLM(context, role="Bench", stream_sink=sink)
    plain: list[float] = []
    streamed: list[float] = []
    try:
        await llm.aask(PROMPT)  # warm up: the SDK's import, the vocabulary, the connection
        await llm.aask(PROMPT, stream=True)
        first.clear()
        for i in range(calls):
            begin = time.perf_counter()
            await llm.aask(f"{PROMPT} {i}")
            plain.append((time.perf_counter() - begin) * 1000)
        for i in range(calls):
            started = time.perf_counter()
            await llm.aask(f"{PROMPT} {i}", stream=True)
            streamed.append((time.perf_counter() - started) * 1000)
    finally:
        await context.aclose()
    return {"plain": plain, "first": first, "streamed": streamed}


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    metagpt.provider.ALLOW_MODEL_REQUESTS = True
    print(f"{'provider':<10} {'call p50':>9} {'call p95':>9} {'first p50':>10} {'first p95':>10} {'stream p50':>11}")
    for name, setup in SETUPS.items():
        try:
            server, config = setup()
        except ImportError as exc:
            print(f"{name:<10} skipped: {exc}")
            continue
        with running(server):
            times = asyncio.run(measure(config(server), args.calls))
        plain, first, streamed = times["plain"], times["first"], times["streamed"]
        print(
            f"{name:<10} {statistics.median(plain):>7.2f}ms {p95(plain):>7.2f}ms {statistics.median(first):>8.2f}ms "
            f"{p95(first):>8.2f}ms {statistics.median(streamed):>9.2f}ms"
        )
    print(f"({args.calls} calls each, milliseconds of client wall time against an instant loopback server)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
