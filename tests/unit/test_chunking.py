"""Prose chunking: bounded size, whole paragraphs and sentences, overlap between chunks."""

from __future__ import annotations

import itertools

import pytest

from metagpt.document_store.chunking import split_text

SENTENCES = [f"Sentence number {i} is about topic {i}." for i in range(60)]


def test_chunks_are_bounded_cover_every_sentence_and_overlap():
    text = "\n\n".join(" ".join(SENTENCES[i : i + 6]) for i in range(0, 60, 6))

    chunks = split_text(text, chunk_size=200, overlap=80)

    assert all(len(c) <= 200 for c in chunks)
    assert all(any(s in c for c in chunks) for s in SENTENCES)
    for previous, current in itertools.pairwise(chunks):
        first_sentence = current.split(". ")[0] + "."
        assert first_sentence in previous, "each chunk starts with the end of the one before"


def test_a_paragraph_that_fits_is_not_split():
    text = "Short intro.\n\n" + " ".join(SENTENCES[:3]) + "\n\nAnother short one."

    chunks = split_text(text, chunk_size=len(" ".join(SENTENCES[:3])) + 5, overlap=0)

    assert chunks == ["Short intro.", " ".join(SENTENCES[:3]), "Another short one."]


def test_without_overlap_the_text_is_kept_in_order():
    text = " ".join(SENTENCES)

    chunks = split_text(text, chunk_size=150, overlap=0)

    assert " ".join(chunks) == text


def test_an_overlong_word_is_cut_hard():
    assert split_text("x" * 25, chunk_size=10, overlap=0) == ["x" * 10, "x" * 10, "x" * 5]


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="chunk_size > overlap"):
        split_text("text", chunk_size=100, overlap=100)
