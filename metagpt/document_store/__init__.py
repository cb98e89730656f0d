"""Document stores: a document's chunks, embedded and searchable (`FaissStore`)."""

from metagpt.document_store.faiss_store import FaissStore
from metagpt.document_store.schema import Chunk, Hit

__all__ = ["Chunk", "FaissStore", "Hit"]
