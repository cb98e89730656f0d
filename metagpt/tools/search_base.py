"""The search interface: `SearchEngine` and the `SearchResult`s it returns.

Its own module, below both the factory (`search_engine`) and the web engines (`web_search`),
so the engines can implement it without importing the factory that builds them.
"""

from __future__ import annotations

import abc

from pydantic import BaseModel


class SearchResult(BaseModel):
    """One result: a web page (title and link) or a document chunk (title is `file, page N`)."""

    title: str = ""
    link: str = ""
    snippet: str

    def __str__(self) -> str:
        head = " - ".join(part for part in (self.title, self.link) if part)
        return f"{head}\n{self.snippet}" if head else self.snippet


class SearchEngine(abc.ABC):
    """Finds results for a query."""

    name: str
    """Where results come from, as a reader would say it (`Serper (Google)`, `example.pdf`)."""

    @abc.abstractmethod
    async def search(self, query: str, max_results: int = 8) -> list[SearchResult]:
        """The best results first; an empty list when nothing matched."""

    async def run(self, query: str, max_results: int = 8, as_string: bool = True) -> str | list[dict[str, str]]:
        """MetaGPT's form: the results as one text, or as dicts with title, link and snippet."""
        results = await self.search(query, max_results)
        if as_string:
            return "\n\n".join(str(result) for result in results)
        return [result.model_dump() for result in results]
