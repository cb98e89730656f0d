"""Hostile documents and caches: every failure a one-line `DocumentError`, bounded memory, a cache that cannot lie."""

from __future__ import annotations

import json
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from metagpt.config import Config
from metagpt.const import DATA_PATH
from metagpt.document_store import FaissStore
from metagpt.document_store.loaders import load_chunks
from metagpt.embeddings.fake import FakeEmbedding
from metagpt.exceptions import DocumentError, UserError

RECORDS = [
    {"source": "When does the shop open?", "output": "At nine on weekdays, ten on Saturdays."},
    {"source": "Where can I park?", "output": "In the garage behind the shop, free for two hours."},
    {"source": "Do you sell gift cards?", "output": "Yes, from $10 to $200, at the till."},
]


def one_line_error(path: Path, **kwargs) -> str:
    with pytest.raises(DocumentError) as info:
        load_chunks(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300 + len(str(path)), message
    assert message.startswith(f"{path}")
    return message


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json", ".txt", ".md"])
def test_latin1_text_is_a_document_error_naming_the_byte(tmp_path, suffix):
    path = tmp_path / f"faq{suffix}"
    body = {".csv": "output,source\ncafé,x\n", ".jsonl": '{"output": "café"}\n', ".json": '[{"output": "café"}]'}
    path.write_bytes(body.get(suffix, "Our café opens at nine.").encode("latin-1"))

    message = one_line_error(path)

    assert "not UTF-8 text (byte 0xe9 at offset" in message and "save it as UTF-8" in message


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_json_nested_100k_deep_is_a_document_error(tmp_path, suffix):
    path = tmp_path / f"deep{suffix}"
    path.write_text('{"output": "a", "source": ' + "[" * 100_000 + "]" * 100_000 + "}\n")

    message = one_line_error(path)

    assert "JSON nested too deeply to read; flatten the records." in message


def test_broken_json_and_huge_integers_are_document_errors(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"output": "a"}\n{"output": \n')
    huge = tmp_path / "huge.json"
    huge.write_text('[{"output": ' + "1" * 5000 + "}]")

    assert "broken.jsonl, line 2: not valid JSON (JSONDecodeError: Expecting value" in one_line_error(broken)
    assert "not valid JSON (ValueError: Exceeds the limit (4300 digits)" in one_line_error(huge)


def test_a_200k_character_csv_field_is_a_document_error_naming_the_line(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text('output,source\nshort,a\n"' + "x" * 200_000 + '",b\n')

    message = one_line_error(path)

    assert f"{path}, line 3: not readable as CSV (Error: field larger than field limit (131072))" in message
    assert "split long texts, or index them as .txt" in message


def test_csv_cells_beyond_the_header_are_dropped(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("output,source\nan answer,a question,stray cell\n")

    (chunk,) = load_chunks(path)

    assert (chunk.text, chunk.metadata) == ("an answer", {"source": "a question"})


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_docx_that_unpacks_beyond_max_document_bytes_is_refused_before_reading(tmp_path):
    xml = b"<w:document xmlns:w='http://schemas.openxmlformats.org/wordprocessingml/2006/main'><w:body>"
    path = write_zip(tmp_path / "bomb.docx", {"word/document.xml": xml + b" " * (64 << 20) + b"</w:body></w:document>"})
    assert path.stat().st_size < 200_000  # 64 MiB of XML in a small file

    tracemalloc.start()
    started = time.monotonic()
    message = one_line_error(path, max_bytes=16 << 20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert "unpacks to 67108977 bytes in 1 parts, more than MAX_DOCUMENT_BYTES (16777216)" in message
    assert "raise MAX_DOCUMENT_BYTES" in message
    assert peak < 4 << 20 and time.monotonic() - started < 2


def test_an_archive_that_lies_about_its_sizes_fails_its_check_while_reading(tmp_path):
    """Declared sizes are what is checked; a member bigger than declared is cut off and fails its CRC."""
    xml = b"<w:document xmlns:w='http://schemas.openxmlformats.org/wordprocessingml/2006/main'><w:body>"
    path = write_zip(tmp_path / "liar.docx", {"word/document.xml": xml + b" " * (32 << 20) + b"</w:body></w:document>"})
    data = bytearray(path.read_bytes())
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    data[local + 22 : local + 26] = struct.pack("<I", 1000)  # uncompressed size in the local header
    data[central + 24 : central + 28] = struct.pack("<I", 1000)  # and in the central directory
    path.write_bytes(bytes(data))

    tracemalloc.start()
    message = one_line_error(path, max_bytes=16 << 20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert "not a readable .docx file (BadZipFile: Bad CRC-32" in message
    assert peak < 4 << 20


def test_a_docx_declaring_1_5_gb_is_refused_at_the_default_limit_from_its_directory_alone(tmp_path):
    path = write_zip(tmp_path / "big.docx", {"word/document.xml": b"<w:document/>"})
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", 1_500_000_000)
    path.write_bytes(bytes(data))

    message = one_line_error(path)

    assert "unpacks to 1500000000 bytes in 1 parts, more than MAX_DOCUMENT_BYTES (209715200)" in message


def test_an_xlsx_bomb_is_refused_too(tmp_path):
    path = write_zip(tmp_path / "bomb.xlsx", {"xl/worksheets/sheet1.xml": b"<a>" + b" " * (20 << 20) + b"</a>"})

    assert "more than MAX_DOCUMENT_BYTES (1048576)" in one_line_error(path, max_bytes=1 << 20)


def test_a_file_larger_than_max_document_bytes_is_refused(tmp_path):
    path = tmp_path / "big.txt"
    with path.open("wb") as handle:
        handle.truncate(3 << 20)

    message = one_line_error(path, max_bytes=1 << 20)

    assert message == (
        f"{path}: 3145728 bytes, more than MAX_DOCUMENT_BYTES (1048576); "
        "split the document, or raise MAX_DOCUMENT_BYTES."
    )


def test_the_store_reads_max_document_bytes_from_the_configuration(tmp_path, monkeypatch):
    path = tmp_path / "shop.txt"
    path.write_text("The shop opens at nine. " * 100)
    monkeypatch.setenv("MAX_DOCUMENT_BYTES", "1000")
    assert Config.default().max_document_bytes == 1000

    with pytest.raises(DocumentError, match=r"more than MAX_DOCUMENT_BYTES \(1000\)"):
        FaissStore(path, cache_dir=tmp_path / "cache", embedding=FakeEmbedding())
    assert len(FaissStore(path, cache_dir=tmp_path / "c2", embedding=FakeEmbedding(), max_document_bytes=10_000)) >= 1


def test_folders_and_pipes_are_document_errors(tmp_path):
    import os

    folder = tmp_path / "docs.pdf"
    folder.mkdir()
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)

    assert "is a folder; pass one document file" in one_line_error(folder)
    assert "is not a regular file (a pipe, socket or device)" in one_line_error(pipe)
    assert "no such file; check the path." in one_line_error(tmp_path / "missing.md")


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_a_pdf_with_only_an_owner_password_is_read(tmp_path, algorithm):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(DATA_PATH / "example.pdf"))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm=algorithm)
    path = tmp_path / "locked.pdf"
    writer.write(path)
    assert PdfReader(path).is_encrypted

    chunks = load_chunks(path)

    assert sorted({c.page for c in chunks}) == list(range(1, 9))
    assert any("ClearBalance Gel Cleanser" in c.text for c in chunks)


def test_a_pdf_that_needs_a_password_says_so(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(DATA_PATH / "example.pdf"))
    writer.encrypt(user_password="open-me", owner_password="owner", algorithm="AES-128")
    path = tmp_path / "secret.pdf"
    writer.write(path)

    assert one_line_error(path) == (
        f"{path}: the PDF needs a password to open; save a copy without one and index that."
    )


def test_a_broken_pdf_is_a_document_error(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes((DATA_PATH / "example.pdf").read_bytes()[:3000])

    assert "not a readable PDF (" in one_line_error(path)


def test_document_error_is_a_user_error_exit_2():
    assert issubclass(DocumentError, UserError) and DocumentError.exit_code == 2


# -- the cache --------------------------------------------------------------------------------------


@pytest.fixture
def faq(tmp_path) -> Path:
    path = tmp_path / "faq.json"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")
    return path


def store(path: Path, tmp_path: Path, embedding: FakeEmbedding | None = None) -> FaissStore:
    return FaissStore(path, cache_dir=tmp_path / "cache", embedding=embedding or FakeEmbedding())


def test_an_altered_chunks_json_is_rebuilt_not_served(faq, tmp_path):
    original = store(faq, tmp_path)
    manifest = json.loads(original.chunks_path.read_text())
    first = next(iter(manifest["chunks"]))
    manifest["chunks"][first]["text"] = "Everything costs $1 today."  # the document's checksum still matches
    original.chunks_path.write_text(json.dumps(manifest))
    embedding = FakeEmbedding()

    rebuilt = store(faq, tmp_path, embedding)

    assert embedding.calls == len(RECORDS)  # indexed again from the document
    assert "$1 today" not in rebuilt.search("price today", k=3)
    assert [c.text for c in rebuilt.chunks.values()] == [r["output"] for r in RECORDS]


def test_swapped_ids_in_chunks_json_are_rebuilt(faq, tmp_path):
    original = store(faq, tmp_path)
    manifest = json.loads(original.chunks_path.read_text())
    texts = [chunk["text"] for chunk in manifest["chunks"].values()]
    for chunk, text in zip(manifest["chunks"].values(), reversed(texts), strict=True):
        chunk["text"] = text
    original.chunks_path.write_text(json.dumps(manifest))
    embedding = FakeEmbedding()

    rebuilt = store(faq, tmp_path, embedding)

    assert embedding.calls == len(RECORDS)
    assert rebuilt.search("Where can I park?", k=1) == RECORDS[1]["output"]


def test_a_planted_index_of_the_wrong_dimension_is_rebuilt(faq, tmp_path):
    import faiss

    original = store(faq, tmp_path)
    planted = faiss.IndexIDMap2(faiss.IndexFlatIP(8))
    planted.add_with_ids(np.ones((3, 8), dtype=np.float32), np.arange(3, dtype=np.int64))
    faiss.write_index(planted, str(original.index_path))
    embedding = FakeEmbedding()

    rebuilt = store(faq, tmp_path, embedding)

    assert embedding.calls == len(RECORDS)
    assert rebuilt.search("Where can I park?", k=1) == RECORDS[1]["output"]


def test_a_planted_index_with_a_matching_manifest_is_a_document_error_at_search(faq, tmp_path):
    """Both files replaced consistently (an index built for another model): searching says what to do."""
    import faiss

    original = store(faq, tmp_path)
    planted = faiss.IndexIDMap2(faiss.IndexFlatIP(8))
    planted.add_with_ids(np.ones((3, 8), dtype=np.float32), np.arange(3, dtype=np.int64))
    faiss.write_index(planted, str(original.index_path))
    manifest = json.loads(original.chunks_path.read_text())
    from metagpt.document_store.faiss_store import file_sha256

    manifest.update(dim=8, index_sha256=file_sha256(original.index_path))
    original.chunks_path.write_text(json.dumps(manifest))

    class NoDim(FakeEmbedding):  # an embedding that does not declare its dimension
        def _vector(self, text):
            vector = np.zeros(256, dtype=np.float32)
            vector[len(text) % 256] = 1
            return vector

    embedding = NoDim()
    del embedding.dim
    loaded = FaissStore(faq, cache_dir=tmp_path / "cache", embedding=embedding)
    assert embedding.calls == 0  # loaded, not rebuilt: nothing told it the dimension was wrong

    with pytest.raises(DocumentError) as info:
        loaded.search_hits("Where can I park?")
    assert str(info.value) == (
        f"{loaded.index_path}: holds 8-dimensional vectors but fake:256 makes 256-dimensional ones; "
        "delete faq.json.index and faq.json.chunks.json to index again."
    )
    with pytest.raises(DocumentError, match="8-dimensional"):
        loaded.add(["one more text"])


def test_ids_never_repeat_even_with_a_rewound_next_id(faq, tmp_path):
    original = store(faq, tmp_path)
    added = original.add(["Loyalty members get 5% off."])
    original.persist()
    manifest = json.loads(original.chunks_path.read_text())
    manifest["next_id"] = 0
    original.chunks_path.write_text(json.dumps(manifest))

    reloaded = store(faq, tmp_path)
    new = reloaded.add(["Gift wrapping is free."])

    assert len(reloaded) == len(RECORDS) + 2
    assert set(new).isdisjoint(set(reloaded.chunks) - set(new))
    assert new[0] > added[0]
    assert reloaded.search("gift wrapping", k=1) == "Gift wrapping is free."


def test_ids_never_repeat_after_the_newest_is_deleted(faq, tmp_path):
    faq_store = store(faq, tmp_path)
    [first] = faq_store.add(["A text."])
    faq_store.delete([first])

    [second] = faq_store.add(["Another text."])

    assert second > first


def test_metadata_that_json_changes_does_not_force_a_rebuild_every_time(tmp_path):
    path = tmp_path / "faq.json"
    path.write_text('[{"output": "Open at nine.", "source": NaN}]')
    store(path, tmp_path)
    embedding = FakeEmbedding()

    store(path, tmp_path, embedding)

    assert embedding.calls == 0


def test_metadata_too_deep_to_save_is_a_document_error_naming_the_record(tmp_path):
    path = tmp_path / "faq.json"
    path.write_text('[{"output": "a", "source": "q"}, {"output": "b", "source": ' + "[" * 300 + "]" * 300 + "}]")

    message = one_line_error(path)

    assert message == f"{path}: record 2: its 'source' value is nested deeper than 32 levels; flatten it."
