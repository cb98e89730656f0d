"""Reading documents into chunks: prose (PDF, text, Markdown, Word) and records (JSON, CSV, Excel).

Prose is split into overlapping chunks that keep their file name and page. Each record becomes
one chunk: its `content_col` value is the text, its `meta_col` value the metadata.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from pydantic import ValidationError

from metagpt.configs.settings import DEFAULT_MAX_DOCUMENT_BYTES
from metagpt.document_store.chunking import split_text
from metagpt.document_store.schema import Chunk
from metagpt.exceptions import QUOTE_LIMIT, DocumentError, brief, brief_error

PROSE = (".pdf", ".txt", ".md", ".docx")
RECORDS = (".json", ".jsonl", ".csv", ".xlsx")
SUPPORTED = PROSE + RECORDS
ZIPPED = (".docx", ".xlsx")
"""Office formats: zip archives whose unpacked size is checked before reading."""
MAX_MEMBERS = 10_000
"""Parts an office archive may hold; real documents hold dozens."""

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def load_chunks(
    path: Path,
    content_col: str = "output",
    meta_col: str = "source",
    chunk_size: int = 1000,
    chunk_overlap: int = 150,
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> list[Chunk]:
    """Every chunk of the document at `path`, in document order.

    `max_bytes` bounds what is read: the file's size, and for `.docx`/`.xlsx` the uncompressed
    size of the archive's contents, both checked before reading (`MAX_DOCUMENT_BYTES`).

    Raises:
        DocumentError: for every document that cannot be read, naming the file and what to do.
    """
    suffix = path.suffix.lower()
    check_document(path, max_bytes)
    if suffix not in SUPPORTED:
        raise DocumentError(f"{path}: unsupported file type {brief(suffix)}; supported: {', '.join(SUPPORTED)}.")
    if suffix in ZIPPED:
        check_archive(path, max_bytes)
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


def check_document(path: Path, max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES) -> os.stat_result:
    """The document's `stat`, once it is known to be a regular file of at most `max_bytes`."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file; check the path.") from None
    except OSError as exc:
        raise DocumentError(f"{path}: cannot be read ({exc.strerror or brief_error(exc)}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise DocumentError(f"{path}: is a folder; pass one document file (e.g. {path / 'catalogue.pdf'}).")
    if not stat.S_ISREG(info.st_mode):
        raise DocumentError(f"{path}: is not a regular file (a pipe, socket or device); copy the document to a file.")
    if info.st_size > max_bytes:
        raise DocumentError(
            f"{path}: {info.st_size} bytes, more than MAX_DOCUMENT_BYTES ({max_bytes}); "
            "split the document, or raise MAX_DOCUMENT_BYTES."
        )
    return info


def check_archive(path: Path, max_bytes: int) -> None:
    """Refuse a `.docx`/`.xlsx` whose parts would unpack to more than `max_bytes` (a zip bomb).

    The sizes come from the archive's directory, read before anything is unpacked. Then every
    part is unpacked piece by piece and dropped (`_verify_member`), so one that unpacks to more
    than it declares fails its checksum here, in bounded memory, before a parser reads it whole.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            unpacked = sum(member.file_size for member in members)
            if unpacked > max_bytes or len(members) > MAX_MEMBERS:
                raise DocumentError(
                    f"{path}: unpacks to {unpacked} bytes in {len(members)} parts, more than MAX_DOCUMENT_BYTES "
                    f"({max_bytes}) or {MAX_MEMBERS} parts; split the document, or raise MAX_DOCUMENT_BYTES."
                )
            for member in members:
                _verify_member(archive, member)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise DocumentError(f"{path}: not a readable {path.suffix} file ({brief_error(exc)}); save it again.") from None


def _verify_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Unpack `member` piece by piece, keeping nothing, so that its checksum is verified.

    zipfile stops a member at its declared size, but reading one whole (`ZipFile.read`, as
    parsers do) inflates each compressed block at once: a member that lies about its size can
    inflate far beyond it in memory before being cut. Read in pieces, it costs at most one piece;
    a lying member fails its CRC check here, before any parser sees it.
    """
    with archive.open(member) as stream:
        while stream.read(1 << 20):
            pass


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped), or an error saying where it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)."
        ) from None


def _read_text_file(path: Path) -> str:
    try:
        return _decode(path, path.read_bytes())
    except OSError as exc:
        raise DocumentError(f"{path}: cannot be read ({exc.strerror or brief_error(exc)}).") from None


def _where(source: str, page: int | None) -> dict[str, Any]:
    return {"source": source, "page": page} if page is not None else {"source": source}


# -- prose: (page or None, text) --------------------------------------------------------------------


def read_pdf(path: Path) -> Iterable[tuple[int | None, str]]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{path}: the PDF needs a password to open; save a copy without one and index that.")
        return [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, start=1)]
    except DocumentError:
        raise
    except DependencyError as exc:
        raise DocumentError(f"{path}: {brief_error(exc)}; install it (pip install cryptography) to read it.") from None
    except PdfReadError as exc:
        raise DocumentError(f"{path}: not a readable PDF ({brief_error(exc)}); save it again as PDF.") from None
    except Exception as exc:  # pypdf parses untrusted bytes and fails in many ways on a broken file
        raise DocumentError(f"{path}: not a readable PDF ({brief_error(exc)}); save it again as PDF.") from None


def read_text(path: Path) -> Iterable[tuple[int | None, str]]:
    return [(None, _read_text_file(path))]


def read_docx(path: Path) -> Iterable[tuple[int | None, str]]:
    """Paragraph and table text of a Word document, read from its XML (no Word library needed)."""
    try:
        with zipfile.ZipFile(path) as archive:
            root = ElementTree.fromstring(archive.read("word/document.xml"))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError, ValueError, EOFError) as exc:
        raise DocumentError(f"{path}: not a readable .docx file ({brief_error(exc)}); save it again.") from None
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
        columns = ", ".join(sorted({str(key) for record in records for key in record}))
        columns = columns if len(columns) <= QUOTE_LIMIT else columns[: QUOTE_LIMIT - 3] + "..."
        raise DocumentError(
            f"{path}: no record has the content column {brief(content_col)}; its columns are {columns}. "
            "Pass content_col= (and meta_col=) to name the right ones."
        )
    chunks = []
    for number, record in enumerate(records, start=1):
        text = _cell(record.get(content_col))
        if not text:
            continue
        meta = record.get(meta_col)
        metadata = {meta_col: meta} if meta_col in record else {}
        try:
            chunks.append(Chunk(text=text, source=path.name, title=_cell(meta), metadata=metadata))
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
            raise DocumentError(f"{path}: record {number}: its {brief(meta_col)} value is {problem}.") from None
    return chunks


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value.strip() if isinstance(value, str) else str(value)


def read_json(path: Path) -> list[dict[str, Any]]:
    """A list of objects, or an object holding one (`{"data": [...]}`)."""
    data = _parse_json(path, _read_text_file(path))
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        data = lists[0] if len(lists) == 1 else [data]
    return _objects(path, data)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(_read_text_file(path).splitlines(), start=1):
        if line.strip():
            rows.append(_parse_json(path, line, number))
    return _objects(path, rows)


def _parse_json(path: Path, text: str, line: int | None = None) -> Any:
    where = f"{path}, line {line}" if line is not None else str(path)
    try:
        return json.loads(text)
    except RecursionError:
        raise DocumentError(f"{where}: JSON nested too deeply to read; flatten the records.") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        raise DocumentError(f"{where}: not valid JSON ({brief_error(exc)}); fix or re-export the file.") from None


def _objects(path: Path, rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise DocumentError(f'{path}: expected a list of records (JSON objects), e.g. [{{"output": "..."}}].')
    return rows


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows keyed by the header row; cells beyond the header are dropped."""
    reader = csv.DictReader(io.StringIO(_read_text_file(path), newline=""))
    try:
        return [{key: value for key, value in row.items() if key is not None} for row in reader]
    except csv.Error as exc:
        raise DocumentError(
            f"{path}, line {reader.reader.line_num}: not readable as CSV ({brief_error(exc)}); a field holds at most "
            f"{csv.field_size_limit()} characters: split long texts, or index them as .txt."
        ) from None


def read_xlsx(path: Path) -> list[dict[str, Any]]:
    """Rows of the first sheet, keyed by the header row."""
    try:
        from openpyxl import load_workbook
    except ImportError:
        raise DocumentError(f"{path}: reading .xlsx needs openpyxl: pip install openpyxl.") from None
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl parses untrusted XML and fails in many ways on a broken file
        raise DocumentError(f"{path}: not a readable .xlsx file ({brief_error(exc)}); save it again.") from None
    try:
        if not workbook.worksheets:
            raise DocumentError(f"{path}: the workbook has no sheet; put the records in its first sheet.")
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [str(cell) if cell is not None else "" for cell in next(rows, ())]
        return [dict(zip(header, row, strict=False)) for row in rows if any(cell is not None for cell in row)]
    except DocumentError:
        raise
    except Exception as exc:
        raise DocumentError(f"{path}: not a readable .xlsx file ({brief_error(exc)}); save it again.") from None
    finally:
        workbook.close()


_RECORD_READERS: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
    ".json": read_json,
    ".jsonl": read_jsonl,
    ".csv": read_csv,
    ".xlsx": read_xlsx,
}
