"""Search engines behind one interface: web search APIs, and any function or document store.

engine = engine_from_config(config)               # SEARCH_ENGINE and its key (tools/web_search.py)
engine = CustomEngine(store)                      # a FaissStore: hits cite file and page
engine = CustomEngine(lambda query: "...")        # any function, sync or async
results = await engine.search("query", max_results=8)
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

from metagpt.exceptions import SearchEngineError
from metagpt.tools.search_base import SearchEngine, SearchResult

if TYPE_CHECKING:
    from metagpt.configs.settings import Config

NOT_CONFIGURED = (
    "Web search is not configured: set SERPER_API_KEY, SERPAPI_API_KEY, or GOOGLE_API_KEY with GOOGLE_CSE_ID "
    "in config/key.yaml (or SEARCH_ENGINE: ddg after `pip install ddgs`)."
)


class SearchEngineType(Enum):
    """MetaGPT's names for the engines; `CUSTOM_ENGINE` is a function or a document store."""

    SERPAPI_GOOGLE = "serpapi"
    SERPER_GOOGLE = "serper"
    DIRECT_GOOGLE = "google"
    DUCK_DUCK_GO = "ddg"
    CUSTOM_ENGINE = "custom"


class CustomEngine(SearchEngine):
    """Search with a document store or any function of the query.

    A store (anything with `search_hits`, like `FaissStore`) gives one result per hit, titled with
    its citation. A function may be sync or async and return a string, a list of strings, or
    dicts with `snippet` (and optionally `title` and `link`); sync work runs in a thread.
    """

    def __init__(self, source: Any, name: str | None = None):
        owner = getattr(source, "__self__", None)
        if hasattr(owner, "search_hits"):  # MetaGPT passes `store.search`: search the store itself
            source = owner
        self.source = source
        raw_data = getattr(source, "raw_data", None)
        if not name:
            name = raw_data.name if raw_data is not None else getattr(source, "__name__", "custom search")
        self.name = name

    async def search(self, query: str, max_results: int = 8) -> list[SearchResult]:
        if hasattr(self.source, "search_hits"):
            hits = await asyncio.to_thread(self.source.search_hits, query, max_results)
            return [SearchResult(title=hit.chunk.citation, snippet=hit.text) for hit in hits]
        found = await _call(self.source, query)
        items = [found] if isinstance(found, str) else list(found or [])
        results = [
            SearchResult(snippet=item) if isinstance(item, str) else SearchResult.model_validate(item)
            for item in items
            if item
        ]
        return [r for r in results if r.snippet.strip()][:max_results]


async def _call(function: Callable[..., Any], query: str) -> Any:
    if inspect.iscoroutinefunction(function):
        return await function(query)
    result = await asyncio.to_thread(function, query)
    return await result if inspect.isawaitable(result) else result


def engine_from_config(config: Config) -> SearchEngine:
    """The web engine `SEARCH_ENGINE` names, or the first whose key is set.

    Raises:
        SearchEngineError: no engine is configured, or the chosen one lacks its key.
    """
    from metagpt.tools import web_search

    name = config.search_engine
    if name is None:
        if config.serper_api_key:
            name = "serper"
        elif config.serpapi_api_key:
            name = "serpapi"
        elif config.google_api_key and config.google_cse_id:
            name = "google"
        else:
            raise SearchEngineError(NOT_CONFIGURED)
    if name == "serper":
        return web_search.SerperEngine(_key(config.serper_api_key, "serper", "SERPER_API_KEY"), timeout=config.timeout)
    if name == "serpapi":
        return web_search.SerpAPIEngine(
            _key(config.serpapi_api_key, "serpapi", "SERPAPI_API_KEY"), timeout=config.timeout
        )
    if name == "google":
        return web_search.GoogleEngine(
            _key(config.google_api_key, "google", "GOOGLE_API_KEY"),
            _key(config.google_cse_id, "google", "GOOGLE_CSE_ID"),
            timeout=config.timeout,
        )
    return web_search.DuckDuckGoEngine()


def _key(value: str | None, engine: str, setting: str) -> str:
    if not value:
        raise SearchEngineError(f"SEARCH_ENGINE is {engine} but {setting} is not set; add it to config/key.yaml.")
    return value
