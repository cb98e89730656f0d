"""`search_knowledge_base`: the passages of the run's document store that match a question."""

from __future__ import annotations

import asyncio

from metagpt.exceptions import UserError
from metagpt.tools.context import tool_context
from metagpt.tools.registry import register_tool


@register_tool(tags=["knowledge base", "documents", "catalogue", "search", "retrieval", "products", "pdf"])
async def search_knowledge_base(query: str, k: int = 3) -> list[dict]:
    """Search the knowledge base (the user's documents, e.g. a product catalogue) for passages.

    Returns the best passages first, each with its text, source file, page and score, so an
    answer can cite the page.

    Args:
        query: what to look for, in words.
        k: how many passages to return.
    """
    store = tool_context().store
    if store is None:
        raise UserError("No knowledge base for this run: pass --data FILE (a PDF, text or records file).")
    hits = await asyncio.to_thread(store.search_hits, query, int(k))
    return [
        {"text": h.text, "source": h.source, "page": h.page, "citation": h.chunk.citation, "score": round(h.score, 4)}
        for h in hits
    ]
