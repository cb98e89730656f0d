"""`web_search`: search the web with the configured engine (`SEARCH_ENGINE` and its key)."""

from __future__ import annotations

from metagpt.tools.context import tool_context
from metagpt.tools.registry import register_tool
from metagpt.tools.search_engine import engine_from_config


@register_tool(tags=["web", "internet", "search engine", "google", "news", "online"])
async def web_search(query: str, max_results: int = 5) -> list[dict]:
    """Search the internet with the configured web search engine; returns titles, links and snippets.

    Args:
        query: the search words.
        max_results: how many results to return.
    """
    engine = engine_from_config(tool_context().config)
    results = await engine.search(query, max_results=int(max_results))
    return [r.model_dump() for r in results]
