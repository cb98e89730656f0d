"""`FaissStore`: a document's chunks, embedded and searchable with faiss, cached on disk.

store = FaissStore(DATA_PATH / "example.pdf")
store.search("Which cleanser suits oily skin?")          # the matching texts, joined
store.search_hits("Which cleanser suits oily skin?", k=3)  # typed hits: score, file, page

The first use reads the document, splits it, embeds every chunk and saves two files in
`cache_dir` (default: beside the document): `<name>.index`, the faiss index in faiss's own binary
format, and `<name>.chunks.json`, the chunks as JSON plus what they were built from (the
document's SHA-256, the embedding model, the chunking). Later uses load both without embedding
anything, unless one of those changed; then the document is indexed again. Nothing is
unpickled, so a planted cache file cannot run code: an unreadable cache is rebuilt. The
manifest also holds digests of its own chunks (texts and ids) and of the index file, and the
vectors' dimension, so an edited `chunks.json`, a swapped index or one built for another model
is rebuilt rather than served.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from loguru import logger
from pydantic import BaseModel, TypeAdapter, ValidationError

from metagpt.document_store.loaders import check_document, load_chunks
from metagpt.document_store.schema import Chunk, Hit
from metagpt.exceptions import DocumentError, brief_error

if TYPE_CHECKING:
    from metagpt.embeddings import Embedding

CACHE_FORMAT = 2
_CHUNKS = TypeAdapter(dict[int, Chunk])


class _Manifest(BaseModel):
    """What an index was built from; a mismatch with the current settings means rebuild."""

    format: int = CACHE_FORMAT
    source_sha256: str
    embedding: str
    settings: dict[str, Any]
    dim: int
    """Length of the index's vectors."""
    index_sha256: str
    """SHA-256 of the `.index` file saved with these chunks."""
    chunks_sha256: str
    """`chunks_digest(chunks)`: binds the chunk texts and ids to the rest of the manifest."""
    next_id: int
    chunks: dict[int, Chunk]


def chunks_digest(chunks: dict[int, Chunk]) -> str:
    """SHA-256 of the chunks (ids, texts, citations, metadata) in id order, as their JSON."""
    return hashlib.sha256(_CHUNKS.dump_json({i: chunks[i] for i in sorted(chunks)})).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        max_document_bytes: largest document read (unpacked size for `.docx`/`.xlsx`); default
            the configured `MAX_DOCUMENT_BYTES`.

    Raises:
        DocumentError: the document cannot be read, naming it and what to do.
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
        max_document_bytes: int | None = None,
    ):
        self.raw_data = Path(raw_data)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.raw_data.parent
        self.meta_col = meta_col
        self.content_col = content_col
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        if embedding is None or max_document_bytes is None:
            from metagpt.configs.settings import Config

            config = Config.default()
            if embedding is None:
                from metagpt.embeddings import create_embedding

                embedding = create_embedding(config)
            max_document_bytes = max_document_bytes or config.max_document_bytes
        self.embedding = embedding
        self.max_document_bytes = max_document_bytes
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
        check_document(self.raw_data, self.max_document_bytes)
        try:
            return file_sha256(self.raw_data)
        except OSError as exc:
            raise DocumentError(f"{self.raw_data}: cannot be read ({exc.strerror or brief_error(exc)}).") from None

    def _load(self) -> bool:
        """Load the saved index when it matches the document and settings; False means rebuild."""
        if not (self.index_path.is_file() and self.chunks_path.is_file()):
            return False
        try:
            manifest = _Manifest.model_validate_json(self.chunks_path.read_bytes())
        except (ValidationError, ValueError, OSError) as exc:
            logger.warning(f"{self.chunks_path}: unreadable index cache ({type(exc).__name__}); rebuilding it.")
            return False
        dim = getattr(self.embedding, "dim", None)
        stale = [
            what
            for what, saved, current in (
                ("format", manifest.format, CACHE_FORMAT),
                ("document", manifest.source_sha256, self._source_sha256()),
                ("embedding", manifest.embedding, self.embedding.key),
                ("settings", manifest.settings, self._settings()),
                ("dimension", manifest.dim, dim if isinstance(dim, int) else manifest.dim),
            )
            if saved != current
        ]
        if stale:
            logger.info(f"{self.raw_data.name}: the saved index is out of date ({', '.join(stale)}); re-indexing.")
            return False
        if chunks_digest(manifest.chunks) != manifest.chunks_sha256:
            logger.warning(f"{self.chunks_path}: the chunks were changed after they were indexed; rebuilding it.")
            return False
        try:
            index_digest = file_sha256(self.index_path)
        except OSError as exc:
            logger.warning(f"{self.index_path}: unreadable ({brief_error(exc)}); rebuilding it.")
            return False
        if index_digest != manifest.index_sha256:
            logger.warning(f"{self.index_path}: not the index saved with {self.chunks_path.name}; rebuilding it.")
            return False
        import faiss

        try:
            index = faiss.read_index(str(self.index_path))
        except RuntimeError as exc:
            logger.warning(f"{self.index_path}: unreadable faiss index ({brief_error(exc)}); rebuilding it.")
            return False
        ids = set(faiss.vector_to_array(index.id_map).tolist()) if hasattr(index, "id_map") else None
        if ids != set(manifest.chunks) or index.d != manifest.dim or index.ntotal != len(manifest.chunks):
            logger.warning(f"{self.index_path}: the index and its chunks disagree; rebuilding it.")
            return False
        self._index, self.chunks = index, manifest.chunks
        self._next_id = max(manifest.next_id, max(self.chunks, default=-1) + 1)  # ids never repeat
        logger.info(f"{self.raw_data.name}: loaded {len(self.chunks)} chunks from {self.index_path}.")
        return True

    def write(self) -> None:
        """Index the document from scratch (read, split, embed) and save the index."""
        chunks = load_chunks(
            self.raw_data,
            self.content_col,
            self.meta_col,
            self.chunk_size,
            self.chunk_overlap,
            max_bytes=self.max_document_bytes,
        )
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

        index_tmp = self.index_path.with_name(f"{self.index_path.name}.{os.getpid()}.tmp")
        chunks_tmp = self.chunks_path.with_name(f"{self.chunks_path.name}.{os.getpid()}.tmp")
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            faiss.write_index(self._index, str(index_tmp))
            saved = _CHUNKS.validate_json(_CHUNKS.dump_json(self.chunks))  # as a later load will see them
            manifest = _Manifest(
                source_sha256=self._source_sha256(),
                embedding=self.embedding.key,
                settings=self._settings(),
                dim=self._index.d,
                index_sha256=file_sha256(index_tmp),
                chunks_sha256=chunks_digest(saved),
                next_id=self._next_id,
                chunks=saved,
            )
            chunks_tmp.write_text(manifest.model_dump_json(), encoding="utf-8")
            os.replace(index_tmp, self.index_path)
            os.replace(chunks_tmp, self.chunks_path)
        except (OSError, RuntimeError) as exc:
            for tmp in (index_tmp, chunks_tmp):
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
            logger.warning(
                f"Could not save the index of {self.raw_data.name} in {self.cache_dir} ({brief_error(exc)}); "
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
        self._check_dimension(vectors.shape[-1])
        self._next_id = max(self._next_id, max(self.chunks, default=-1) + 1)
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
        self._check_dimension(vector.shape[-1])
        scores, ids = self._index.search(vector, min(k, len(self.chunks)))
        return [
            Hit(id=int(i), score=float(score), chunk=self.chunks[int(i)])
            for score, i in zip(scores[0], ids[0], strict=True)
            if i >= 0
        ]

    def _check_dimension(self, dim: int) -> None:
        """Refuse vectors of another length than the index's (faiss would fail an assertion)."""
        if dim != self._index.d:
            raise DocumentError(
                f"{self.index_path}: holds {self._index.d}-dimensional vectors but {self.embedding.key} makes "
                f"{dim}-dimensional ones; delete {self.index_path.name} and {self.chunks_path.name} to index again."
            )

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
