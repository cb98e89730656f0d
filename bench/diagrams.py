"""Share of the embedded model's diagrams that mermaid parses, with and without diagram grammars.

For each idea the local model (SmolLM2-135M by default) writes a PRD and a system design; their
three diagrams (quadrantChart, classDiagram, sequenceDiagram) are checked with mermaid's own
parser in the playwright engine (`make mermaid`). Prints one line per idea and mode, then the
share that parse per mode and per diagram type.

    python bench/diagrams.py [--ideas 10] [--mode both|grammar|plain]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metagpt.actions import WriteDesign, WritePRD  # noqa: E402
from metagpt.configs.settings import Config  # noqa: E402
from metagpt.context import Context  # noqa: E402
from metagpt.exceptions import ModelBehaviorError  # noqa: E402
from metagpt.llm import LLM  # noqa: E402
from metagpt.provider import llama_grammar  # noqa: E402
from metagpt.render import DiagramRenderer  # noqa: E402

IDEAS = [
    "a command-line snake game",
    "a pomodoro timer for the terminal",
    "a todo list web app with tags",
    "a markdown to HTML converter",
    "a URL shortener service",
    "a weather dashboard that reads a CSV of measurements",
    "a personal expense tracker",
    "a chess clock for two players",
    "a quiz game with multiple-choice questions",
    "a file backup tool that keeps daily snapshots",
]


async def generate(idea: str, config: Config) -> dict[str, str]:
    """The three diagrams the local model writes for `idea` (empty when a document failed)."""
    context = Context(config)
    llm = LLM(context, role="bench", stream_sink=lambda _: None)
    diagrams: dict[str, str] = {}
    try:
        prd = await WritePRD(llm).run(idea)
        diagrams.update(prd.mermaid_resources())
        design = await WriteDesign(llm).run(prd.to_markdown())
        diagrams.update(design.mermaid_resources())
    except ModelBehaviorError as exc:
        print(f"  ({exc})")
    await context.aclose()
    return diagrams


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ideas", type=int, default=10)
    parser.add_argument("--mode", choices=["both", "grammar", "plain"], default="both")
    args = parser.parse_args()
    config = Config(api_type="local", mermaid_engine="playwright")
    renderer = DiagramRenderer(config)
    if await renderer.ready() is None:
        sys.exit(f"No mermaid parser: {renderer.start_error}. Run `make mermaid` first.")
    modes = ["plain", "grammar"] if args.mode == "both" else [args.mode]
    with_grammars = llama_grammar.diagram_fields
    counts: dict[str, dict[str, list[int]]] = {mode: defaultdict(lambda: [0, 0]) for mode in modes}
    for mode in modes:
        llama_grammar.diagram_fields = with_grammars if mode == "grammar" else (lambda schema: {})
        for idea in IDEAS[: args.ideas]:
            started = time.monotonic()
            diagrams = await generate(idea, config)
            verdicts = []
            for stem in ("competitive_analysis", "data_api_design", "seq_flow"):
                error = await renderer.validate(diagrams[stem]) if stem in diagrams else "not written"
                counts[mode][stem][0] += error is None
                counts[mode][stem][1] += 1
                verdicts.append(f"{stem}={'ok' if error is None else 'invalid'}")
            print(f"{mode:8} {idea[:40]:40} {' '.join(verdicts)} ({time.monotonic() - started:.0f}s)", flush=True)
    llama_grammar.diagram_fields = with_grammars
    await renderer.aclose()
    print()
    for mode in modes:
        parsed = sum(c[0] for c in counts[mode].values())
        total = sum(c[1] for c in counts[mode].values())
        per_kind = ", ".join(f"{stem} {c[0]}/{c[1]}" for stem, c in counts[mode].items())
        print(f"{mode:8} {parsed}/{total} diagrams parse ({100 * parsed / max(total, 1):.0f}%): {per_kind}")


if __name__ == "__main__":
    asyncio.run(main())
