"""`FaissStore`: a document's chunks, embedded and searchable with faiss, cached on disk.

store = FaissStore(DATA_PATH / "example.pdf")
store.search("Which cleanser suits oily skin?")          # the matching texts, joined
store.search_hits("Which cleanser suits oily skin?", k=3)  # typed hits: score, file, page

The first use reads the document, splits it, embeds every chunk and saves two files in
`cache_dir` (default: beside the document): `<name>.index`, the faiss index in faiss's own binary
format, and `<name>.chunks.json`, the chunks as JSON plus what they were built from (the
document's SHA-256, the embedding model, the chunking). Later uses load both without embedding
anything, unless one of those changed; then the document is indexed again. Nothing is
unpickled, so a planted cache file cannot run code: an unreadable cache is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from loguru import logger
from pydantic import BaseModel, ValidationError

from metagpt.document_store.loaders import load_chunks
from metagpt.document_store.schema import Chunk, Hit
from metagpt.exceptions import UserError

if TYPE_CHECKING:
    from metagpt.embeddings import Embedding

CACHE_FORMAT = 1


class _Manifest(BaseModel):
    """What an index was built from; a mismatch with the current settings means rebuild."""

    format: int = CACHE_FORMAT
    source_sha256: str
    embedding: str
    settings: dict[str, Any]
    next_id: int
    chunks: dict[int, Chunk]


class FaissStore:
    """A searchable index of one document (MetaGPT's `FaissStore`).

    Args:
        raw_data: the document: `.pdf`, `.txt`, `.md`, `.docx`, or records in `.json`,
            `.jsonl`, `.csv`, `.xlsx`.
        cache_dir: where the index is saved; default the document's folder.
        meta_col: for records, the column kept as metadata (and embedded with the content).
        content_col: for records, the column returned by searches.
        embedding: the embedding backend; default the configured one (`EMBEDDING_API_TYPE`).
        chunk_size: maximum characters of a prose chunk.
        chunk_overlap: characters a prose chunk repeats from the previous one.
    """

    def __init__(
        self,
        raw_data: Path | str,
        cache_dir: Path | str | None = None,
        meta_col: str = "source",
        content_col: str = "output",
        embedding: Embedding | None = None,
        chunk_size: int = 1000,
        chunk_overlap: int = 150,
    ):
        self.raw_data = Path(raw_data)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.raw_data.parent
        self.meta_col = meta_col
        self.content_col = content_col
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        if embedding is None:
            from metagpt.config import Config
            from metagpt.embeddings import create_embedding

            embedding = create_embedding(Config.default())
        self.embedding = embedding
        self.chunks: dict[int, Chunk] = {}
        self._next_id = 0
        self._index: Any = None
        if not self._load():
            self.write()

    # -- files ----------------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.cache_dir / f"{self.raw_data.name}.index"

    @property
    def chunks_path(self) -> Path:
        return self.cache_dir / f"{self.raw_data.name}.chunks.json"

    def _settings(self) -> dict[str, Any]:
        return {
            "content_col": self.content_col,
            "meta_col": self.meta_col,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
        }

    def _source_sha256(self) -> str:
        if not self.raw_data.is_file():
            raise UserError(f"{self.raw_data}: no such file.")
        digest = hashlib.sha256()
        with self.raw_data.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def _load(self) -> bool:
        """Load the saved index when it matches the document and settings; False means rebuild."""
        if not (self.index_path.is_file() and self.chunks_path.is_file()):
            return False
        try:
            manifest = _Manifest.model_validate_json(self.chunks_path.read_bytes())
        except (ValidationError, ValueError) as exc:
            logger.warning(f"{self.chunks_path}: unreadable index cache ({type(exc).__name__}); rebuilding it.")
            return False
        stale = [
            what
            for what, saved, current in (
                ("format", manifest.format, CACHE_FORMAT),
                ("document", manifest.source_sha256, self._source_sha256()),
                ("embedding", manifest.embedding, self.embedding.key),
                ("settings", manifest.settings, self._settings()),
            )
            if saved != current
        ]
        if stale:
            logger.info(f"{self.raw_data.name}: the saved index is out of date ({', '.join(stale)}); re-indexing.")
            return False
        import faiss

        try:
            index = faiss.read_index(str(self.index_path))
        except RuntimeError as exc:
            logger.warning(f"{self.index_path}: unreadable faiss index ({str(exc).splitlines()[0]}); rebuilding it.")
            return False
        ids = set(faiss.vector_to_array(index.id_map).tolist()) if hasattr(index, "id_map") else None
        if ids != set(manifest.chunks):
            logger.warning(f"{self.index_path}: the index and its chunks disagree; rebuilding it.")
            return False
        self._index, self.chunks, self._next_id = index, manifest.chunks, manifest.next_id
        logger.info(f"{self.raw_data.name}: loaded {len(self.chunks)} chunks from {self.index_path}.")
        return True

    def write(self) -> None:
        """Index the document from scratch (read, split, embed) and save the index."""
        chunks = load_chunks(self.raw_data, self.content_col, self.meta_col, self.chunk_size, self.chunk_overlap)
        self._index, self.chunks, self._next_id = None, {}, 0
        self._add_chunks(chunks)
        logger.info(f"{self.raw_data.name}: indexed {len(chunks)} chunks with {self.embedding.key}.")
        self.persist()

    def persist(self) -> None:
        """Save the index and chunks to `cache_dir`, each file replaced atomically.

        A folder that cannot be written (a read-only install) leaves the store in memory only,
        with a warning: searching still works, the next start indexes again.
        """
        import faiss

        manifest = _Manifest(
            source_sha256=self._source_sha256(),
            embedding=self.embedding.key,
            settings=self._settings(),
            next_id=self._next_id,
            chunks=self.chunks,
        )
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            index_tmp = self.index_path.with_name(self.index_path.name + ".tmp")
            faiss.write_index(self._index, str(index_tmp))
            chunks_tmp = self.chunks_path.with_name(self.chunks_path.name + ".tmp")
            chunks_tmp.write_text(manifest.model_dump_json(), encoding="utf-8")
            os.replace(index_tmp, self.index_path)
            os.replace(chunks_tmp, self.chunks_path)
        except (OSError, RuntimeError) as exc:
            logger.warning(
                f"Could not save the index of {self.raw_data.name} in {self.cache_dir} ({exc}); "
                "it is kept in memory only. Pass a writable cache_dir to keep it."
            )

    # -- changes --------------------------------------------------------------------------------

    def add(self, texts: Sequence[str], metadatas: Sequence[dict[str, Any]] | None = None) -> list[int]:
        """Embed and add `texts`, one chunk each; returns their ids. Call `persist()` to save them.

        A metadata dict's `source` and `page` keys are used as the chunk's citation.
        """
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(metadatas)} metadatas")
        chunks = []
        for text, metadata in zip(texts, metadatas or [{}] * len(texts), strict=True):
            page = metadata.get("page")
            chunks.append(
                Chunk(
                    text=text,
                    source=str(metadata.get("source", "")),
                    page=page if isinstance(page, int) else None,
                    metadata=dict(metadata),
                )
            )
        return self._add_chunks(chunks)

    def delete(self, ids: Sequence[int]) -> int:
        """Remove chunks by id; returns how many were removed. Call `persist()` to save the change."""
        present = [i for i in ids if i in self.chunks]
        if present:
            self._index.remove_ids(np.asarray(present, dtype=np.int64))
            for i in present:
                del self.chunks[i]
        return len(present)

    def _add_chunks(self, chunks: list[Chunk]) -> list[int]:
        if not chunks:
            return []
        vectors = self.embedding.embed_documents([chunk.passage for chunk in chunks])
        if self._index is None:
            import faiss

            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
        ids = list(range(self._next_id, self._next_id + len(chunks)))
        self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        self.chunks.update(zip(ids, chunks, strict=True))
        self._next_id += len(chunks)
        return ids

    # -- search ---------------------------------------------------------------------------------

    def search_hits(self, query: str, k: int = 5) -> list[Hit]:
        """The `k` chunks most similar to `query`, best first, with their cosine similarity."""
        if not self.chunks or k <= 0:
            return []
        vector = self.embedding.embed_query(query).reshape(1, -1)
        scores, ids = self._index.search(vector, min(k, len(self.chunks)))
        return [
            Hit(id=int(i), score=float(score), chunk=self.chunks[int(i)])
            for score, i in zip(scores[0], ids[0], strict=True)
            if i >= 0
        ]

    def search(self, query: str, expand_cols: bool = False, sep: str = "\n", k: int = 5) -> str:
        """The texts of the `k` best chunks joined by `sep`; `expand_cols` appends each one's metadata."""
        hits = self.search_hits(query, k=k)
        if expand_cols:
            return sep.join(f"{hit.text}: {hit.chunk.metadata}" for hit in hits)
        return sep.join(hit.text for hit in hits)

    def __len__(self) -> int:
        return len(self.chunks)

    def __repr__(self) -> str:
        return f"FaissStore({str(self.raw_data)!r}, chunks={len(self.chunks)}, embedding={self.embedding.key!r})"
