"""Reading documents into chunks: prose (PDF, text, Markdown, Word) and records (JSON, CSV, Excel).

Prose is split into overlapping chunks that keep their file name and page. Each record becomes
one chunk: its `content_col` value is the text, its `meta_col` value the metadata.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from metagpt.document_store.chunking import split_text
from metagpt.document_store.schema import Chunk
from metagpt.exceptions import DocumentError

PROSE = (".pdf", ".txt", ".md", ".docx")
RECORDS = (".json", ".jsonl", ".csv", ".xlsx")
SUPPORTED = PROSE + RECORDS

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def load_chunks(
    path: Path,
    content_col: str = "output",
    meta_col: str = "source",
    chunk_size: int = 1000,
    chunk_overlap: int = 150,
) -> list[Chunk]:
    """Every chunk of the document at `path`, in document order."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DocumentError(f"{path}: no such file.")
    if suffix not in SUPPORTED:
        raise DocumentError(f"{path}: unsupported file type {suffix!r}; supported: {', '.join(SUPPORTED)}.")
    if suffix in RECORDS:
        chunks = records_to_chunks(path, _RECORD_READERS[suffix](path), content_col, meta_col)
    else:
        chunks = [
            Chunk(text=piece, source=path.name, page=page, metadata=_where(path.name, page))
            for page, text in _PAGE_READERS[suffix](path)
            for piece in split_text(text, chunk_size, chunk_overlap)
        ]
    if not chunks:
        hint = " (a scanned PDF needs OCR first)" if suffix == ".pdf" else ""
        raise DocumentError(f"{path}: found no text to index{hint}.")
    return chunks


def _where(source: str, page: int | None) -> dict[str, Any]:
    return {"source": source, "page": page} if page is not None else {"source": source}


# -- prose: (page or None, text) --------------------------------------------------------------------


def read_pdf(path: Path) -> Iterable[tuple[int | None, str]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise DocumentError(f"{path}: the PDF is encrypted; save an unprotected copy and index that.")
        return [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, start=1)]
    except PdfReadError as exc:
        raise DocumentError(f"{path}: not a readable PDF ({exc}).") from None


def read_text(path: Path) -> Iterable[tuple[int | None, str]]:
    try:
        return [(None, path.read_text(encoding="utf-8-sig"))]
    except UnicodeDecodeError:
        raise DocumentError(f"{path}: not UTF-8 text; convert it to UTF-8 first.") from None


def read_docx(path: Path) -> Iterable[tuple[int | None, str]]:
    """Paragraph and table text of a Word document, read from its XML (no Word library needed)."""
    try:
        with zipfile.ZipFile(path) as archive:
            root = ElementTree.fromstring(archive.read("word/document.xml"))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as exc:
        raise DocumentError(f"{path}: not a readable .docx file ({exc}).") from None
    body = root.find(f"{_W}body")
    blocks: list[str] = []
    for element in body if body is not None else []:
        if element.tag == f"{_W}p":
            blocks.append(_paragraph_text(element))
        elif element.tag == f"{_W}tbl":
            rows = [
                " | ".join(" ".join(_paragraph_text(p) for p in cell.iter(f"{_W}p")) for cell in row.iter(f"{_W}tc"))
                for row in element.iter(f"{_W}tr")
            ]
            blocks.append("\n".join(rows))
    return [(None, "\n\n".join(block for block in blocks if block.strip()))]


def _paragraph_text(paragraph: ElementTree.Element) -> str:
    parts = []
    for node in paragraph.iter():
        if node.tag == f"{_W}t":
            parts.append(node.text or "")
        elif node.tag == f"{_W}tab":
            parts.append("\t")
        elif node.tag in (f"{_W}br", f"{_W}cr"):
            parts.append("\n")
    return "".join(parts)


_PAGE_READERS: dict[str, Callable[[Path], Iterable[tuple[int | None, str]]]] = {
    ".pdf": read_pdf,
    ".txt": read_text,
    ".md": read_text,
    ".docx": read_docx,
}


# -- records ----------------------------------------------------------------------------------------


def records_to_chunks(path: Path, records: list[dict[str, Any]], content_col: str, meta_col: str) -> list[Chunk]:
    """One chunk per record with a non-empty `content_col`."""
    if records and not any(content_col in record for record in records):
        columns = ", ".join(sorted({key for record in records for key in record}))
        raise DocumentError(
            f"{path}: no record has the content column {content_col!r}; its columns are {columns}. "
            "Pass content_col= (and meta_col=) to name the right ones."
        )
    chunks = []
    for record in records:
        text = _cell(record.get(content_col))
        if not text:
            continue
        meta = record.get(meta_col)
        metadata = {meta_col: meta} if meta_col in record else {}
        chunks.append(Chunk(text=text, source=path.name, title=_cell(meta), metadata=metadata))
    return chunks


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value.strip() if isinstance(value, str) else str(value)


def read_json(path: Path) -> list[dict[str, Any]]:
    """A list of objects, or an object holding one (`{"data": [...]}`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: not valid JSON ({exc}).") from None
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        data = lists[0] if len(lists) == 1 else [data]
    return _objects(path, data)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DocumentError(f"{path}:{number}: not valid JSON ({exc}).") from None
    return _objects(path, rows)


def _objects(path: Path, rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise DocumentError(f"{path}: expected a list of records (JSON objects).")
    return rows


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


def read_xlsx(path: Path) -> list[dict[str, Any]]:
    """Rows of the first sheet, keyed by the header row."""
    try:
        from openpyxl import load_workbook
    except ImportError:
        raise DocumentError(f"{path}: reading .xlsx needs openpyxl: pip install openpyxl.") from None
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise DocumentError(f"{path}: not a readable .xlsx file ({exc}).") from None
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [str(cell) if cell is not None else "" for cell in next(rows, ())]
        return [dict(zip(header, row, strict=False)) for row in rows if any(cell is not None for cell in row)]
    finally:
        workbook.close()


_RECORD_READERS: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
    ".json": read_json,
    ".jsonl": read_jsonl,
    ".csv": read_csv,
    ".xlsx": read_xlsx,
}
