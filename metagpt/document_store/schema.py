"""What the document store holds (`Chunk`) and what a search returns (`Hit`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Chunk(BaseModel):
    """A piece of a document, small enough to embed, that remembers where it came from."""

    text: str
    """What a search returns."""
    source: str = ""
    """File name of the document (or what `add` was given as `source`)."""
    page: int | None = None
    """1-based page number for PDFs; None for formats without pages."""
    title: str = ""
    """Embedded together with `text` but not returned: a record's `meta_col` value (its question)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """JSON values shown by `search(expand_cols=True)`: a record's `meta_col`, or source and page."""

    @property
    def passage(self) -> str:
        """The text that is embedded."""
        return f"{self.title}\n{self.text}" if self.title else self.text

    @property
    def citation(self) -> str:
        """`file, page N` (or just the file), for answers that cite their sources."""
        if not self.source:
            return ""
        return f"{self.source}, page {self.page}" if self.page is not None else self.source


class Hit(BaseModel):
    """One search result: the chunk, its id in the store and its cosine similarity to the query."""

    id: int
    score: float
    chunk: Chunk

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def source(self) -> str:
        return self.chunk.source

    @property
    def page(self) -> int | None:
        return self.chunk.page
