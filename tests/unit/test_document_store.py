"""FaissStore with the fake embedding: loading each file type, search, persistence, safety."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest

from metagpt.const import DATA_PATH
from metagpt.document_store import FaissStore, Hit
from metagpt.document_store.loaders import load_chunks
from metagpt.embeddings.fake import FakeEmbedding
from metagpt.exceptions import DocumentError

EXAMPLE_PDF = DATA_PATH / "example.pdf"
EXAMPLE_JSON = DATA_PATH / "example.json"

PROSE = """Opening hours

The shop opens at nine in the morning on weekdays and at ten on Saturdays. It is closed on Sundays.

Parking

Customers park for free in the garage behind the shop for up to two hours."""

RECORDS = [
    {"source": "When does the shop open?", "output": "At nine on weekdays, ten on Saturdays."},
    {"source": "Where can I park?", "output": "In the garage behind the shop, free for two hours."},
    {"source": "Do you sell gift cards?", "output": "Yes, from $10 to $200, at the till."},
]


def store(path: Path, tmp_path: Path, embedding: FakeEmbedding | None = None, **kwargs) -> FaissStore:
    return FaissStore(path, cache_dir=tmp_path / "cache", embedding=embedding or FakeEmbedding(), **kwargs)


def write_docx(path: Path, paragraphs: list[str], table: list[list[str]]) -> Path:
    """A minimal but valid Word document: paragraphs then one table."""
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'

    def para(text: str) -> str:
        return f"<w:p><w:r><w:t xml:space='preserve'>{text}</w:t></w:r></w:p>"

    rows = "".join("<w:tr>" + "".join(f"<w:tc>{para(c)}</w:tc>" for c in row) + "</w:tr>" for row in table)
    body = "".join(para(p) for p in paragraphs) + f"<w:tbl>{rows}</w:tbl>"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "word/document.xml", f"<?xml version='1.0'?><w:document {w}><w:body>{body}</w:body></w:document>"
        )
    return path


# -- loaders ------------------------------------------------------------------------------------------


def test_pdf_keeps_page_numbers():
    chunks = load_chunks(EXAMPLE_PDF)

    assert sorted({c.page for c in chunks}) == list(range(1, 9))
    assert all(c.source == "example.pdf" for c in chunks)
    page_two = " ".join(c.text for c in chunks if c.page == 2)
    assert "ClearBalance Gel Cleanser" in page_two and "$14.90" in page_two
    assert chunks[0].metadata == {"source": "example.pdf", "page": 1}


@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_text_and_markdown(tmp_path, suffix):
    path = tmp_path / f"shop{suffix}"
    path.write_text(PROSE, encoding="utf-8")

    chunks = load_chunks(path, chunk_size=100, chunk_overlap=0)

    assert [c.text for c in chunks] == [
        "Opening hours",
        "The shop opens at nine in the morning on weekdays and at ten on Saturdays. It is closed on Sundays.",
        "Parking\n\nCustomers park for free in the garage behind the shop for up to two hours.",
    ]
    assert {(c.source, c.page) for c in chunks} == {(path.name, None)}


def test_docx_paragraphs_and_tables(tmp_path):
    path = write_docx(
        tmp_path / "faq.docx", ["Gift cards", "We sell gift cards at the till."], [["Card", "Price"], ["Small", "$10"]]
    )

    (chunk,) = load_chunks(path)

    assert chunk.text == "Gift cards\n\nWe sell gift cards at the till.\n\nCard | Price\nSmall | $10"


def test_json_records_stay_whole(tmp_path):
    path = tmp_path / "faq.json"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")

    chunks = load_chunks(path, chunk_size=10, chunk_overlap=0)

    assert [c.text for c in chunks] == [r["output"] for r in RECORDS]
    assert [c.metadata for c in chunks] == [{"source": r["source"]} for r in RECORDS]
    assert chunks[0].passage == "When does the shop open?\nAt nine on weekdays, ten on Saturdays."


def test_jsonl_csv_and_xlsx_records_with_chosen_columns(tmp_path):
    rows = [{"question": r["source"], "answer": r["output"]} for r in RECORDS]
    jsonl = tmp_path / "faq.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    csv_path = tmp_path / "faq.csv"
    csv_path.write_text("question,answer\n" + "".join(f'"{r["question"]}","{r["answer"]}"\n' for r in rows))
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["question", "answer"])
    for r in rows:
        workbook.active.append([r["question"], r["answer"]])
    xlsx = tmp_path / "faq.xlsx"
    workbook.save(xlsx)

    for path in (jsonl, csv_path, xlsx):
        chunks = load_chunks(path, content_col="answer", meta_col="question")
        assert [(c.text, c.metadata) for c in chunks] == [(r["answer"], {"question": r["question"]}) for r in rows]


def test_wrong_content_column_names_the_columns(tmp_path):
    path = tmp_path / "faq.json"
    path.write_text(json.dumps([{"q": "a", "a": "b"}]), encoding="utf-8")

    with pytest.raises(DocumentError, match=r"content column 'output'; its columns are a, q"):
        load_chunks(path)


def test_unsupported_and_missing_files(tmp_path):
    (tmp_path / "notes.rtf").write_text("x")

    with pytest.raises(DocumentError, match=r"unsupported file type '\.rtf'"):
        load_chunks(tmp_path / "notes.rtf")
    with pytest.raises(DocumentError, match="no such file"):
        load_chunks(tmp_path / "missing.pdf")


def test_pdf_without_text_says_so(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    path = tmp_path / "scan.pdf"
    writer.write(path)

    with pytest.raises(DocumentError, match=r"no text to index \(a scanned PDF needs OCR first\)"):
        load_chunks(path)


# -- search ---------------------------------------------------------------------------------------------


@pytest.fixture
def faq(tmp_path) -> Path:
    path = tmp_path / "faq.json"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")
    return path


def test_search_returns_the_matching_record(faq, tmp_path):
    faq_store = store(faq, tmp_path)

    assert faq_store.search("Where do I park my car?", k=1) == RECORDS[1]["output"]
    assert faq_store.search("gift cards", k=2).split("\n")[0] == RECORDS[2]["output"]
    assert (
        faq_store.search("gift cards", k=1, expand_cols=True)
        == f"{RECORDS[2]['output']}: {{'source': 'Do you sell gift cards?'}}"
    )
    assert len(faq_store.search("gift cards", sep="|||").split("|||")) == 3


def test_search_hits_carry_score_file_and_page(tmp_path):
    pdf_store = store(EXAMPLE_PDF, tmp_path)

    hits = pdf_store.search_hits("retinal serum pregnancy breastfeeding", k=3)

    assert all(isinstance(h, Hit) for h in hits)
    assert (hits[0].source, hits[0].page) == ("example.pdf", 7)
    assert hits[0].chunk.citation == "example.pdf, page 7"
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_add_and_delete(faq, tmp_path):
    faq_store = store(faq, tmp_path)

    ids = faq_store.add(["Our loyalty card gives 5% off every purchase."], [{"source": "leaflet.pdf", "page": 2}])
    (hit,) = faq_store.search_hits("loyalty card discount", k=1)
    assert (hit.id, hit.source, hit.page) == (ids[0], "leaflet.pdf", 2)

    assert faq_store.delete([ids[0], 999]) == 1
    assert "loyalty" not in faq_store.search("loyalty card discount", k=4)
    assert len(faq_store) == len(RECORDS)


# -- persistence --------------------------------------------------------------------------------------


def test_reload_does_not_embed_again(faq, tmp_path):
    store(faq, tmp_path)
    embedding = FakeEmbedding()

    reloaded = store(faq, tmp_path, embedding)

    assert embedding.calls == 0
    assert reloaded.search("Where can I park?", k=1) == RECORDS[1]["output"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["faq.json.chunks.json", "faq.json.index"]


def test_changed_document_is_indexed_again(faq, tmp_path):
    store(faq, tmp_path)
    faq.write_text(json.dumps([*RECORDS, {"source": "Do you deliver?", "output": "Yes, within 3 days."}]))
    embedding = FakeEmbedding()

    updated = store(faq, tmp_path, embedding)

    assert embedding.calls == len(RECORDS) + 1
    assert updated.search("Do you deliver?", k=1) == "Yes, within 3 days."
    assert store(faq, tmp_path, (again := FakeEmbedding())) and again.calls == 0


def test_other_embedding_or_columns_rebuild(faq, tmp_path):
    store(faq, tmp_path)
    other = FakeEmbedding(dim=64)

    assert len(store(faq, tmp_path, other)) == 3 and other.calls == 3
    swapped = store(faq, tmp_path, FakeEmbedding(dim=64), content_col="source", meta_col="output")
    assert swapped.search("parking garage", k=1) == "Where can I park?"


def test_added_texts_survive_persist(faq, tmp_path):
    faq_store = store(faq, tmp_path)
    faq_store.add(["Loyalty members get 5% off."])
    faq_store.persist()

    assert store(faq, tmp_path).search("loyalty members", k=1) == "Loyalty members get 5% off."


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {Path.cwd() / 'pwned'}",))


def test_a_planted_pickle_cannot_run_code(faq, tmp_path):
    faq_store = store(faq, tmp_path)
    faq_store.chunks_path.write_bytes(pickle.dumps(_Payload()))
    faq_store.index_path.write_bytes(pickle.dumps(_Payload()))

    rebuilt = store(faq, tmp_path)

    assert not (Path.cwd() / "pwned").exists()
    assert rebuilt.search("Where can I park?", k=1) == RECORDS[1]["output"]
    assert json.loads(rebuilt.chunks_path.read_text())["chunks"]


def test_corrupt_index_is_rebuilt(faq, tmp_path):
    faq_store = store(faq, tmp_path)
    faq_store.index_path.write_bytes(b"not a faiss index")
    embedding = FakeEmbedding()

    rebuilt = store(faq, tmp_path, embedding)

    assert embedding.calls == len(RECORDS)
    assert rebuilt.search("gift cards", k=1) == RECORDS[2]["output"]


def test_read_only_cache_keeps_the_store_in_memory(faq, tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")

    faq_store = FaissStore(faq, cache_dir=blocker / "index", embedding=FakeEmbedding())

    assert faq_store.search("Where can I park?", k=1) == RECORDS[1]["output"]


def test_default_cache_is_beside_the_document(faq):
    FaissStore(faq, embedding=FakeEmbedding())

    assert (faq.parent / "faq.json.index").is_file()
