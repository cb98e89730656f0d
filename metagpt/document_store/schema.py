"""What the document store holds (`Chunk`) and what a search returns (`Hit`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

MAX_METADATA_DEPTH = 32
"""Nesting a chunk's metadata may have: deeper JSON cannot be saved with the index (nor read back)."""


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

    @field_validator("metadata")
    @classmethod
    def _shallow(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        if json_depth(metadata) > MAX_METADATA_DEPTH:
            raise ValueError(f"nested deeper than {MAX_METADATA_DEPTH} levels; flatten it")
        return metadata

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


def json_depth(value: Any) -> int:
    """How deeply lists and dicts nest in `value` (a scalar is 0), without recursion."""
    depth, level = 0, [(value, 1)]
    while level:
        item, at = level.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list | tuple) else None
        if children is None:
            continue
        depth = max(depth, at)
        if depth > MAX_METADATA_DEPTH:
            return depth
        level.extend((child, at + 1) for child in children)
    return depth
