"""Splitting prose into overlapping chunks that respect paragraphs and sentences."""

from __future__ import annotations

import re

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?。！？;])\s+")


def split_text(text: str, chunk_size: int = 1000, overlap: int = 150) -> list[str]:
    """Cut `text` into chunks of at most `chunk_size` characters.

    A paragraph that fits in a chunk is never split: it joins the current chunk or starts the
    next one. Longer paragraphs are cut at sentence ends, then at spaces; a word longer than
    `chunk_size` is cut hard. Each chunk after the first starts with the last whole sentences
    (at most `overlap` characters) of the previous one, so a fact that straddles a boundary is
    still found whole in one chunk.
    """
    if chunk_size <= 0 or not 0 <= overlap < chunk_size:
        raise ValueError(f"need chunk_size > overlap >= 0, got chunk_size={chunk_size}, overlap={overlap}")
    chunks: list[str] = []
    current: list[tuple[str, str]] = []  # (separator before the unit, unit)

    def flush() -> None:
        nonlocal current
        if current:
            chunks.append(_join(current))
            current = _tail(current, overlap)

    for paragraph in _paragraphs(text, chunk_size):
        whole = len(_join(paragraph))
        if current and whole <= chunk_size and len(_join(current)) + 2 + whole > chunk_size:
            flush()  # start the paragraph in a fresh chunk rather than split it
            if current and len(_join(current)) + 2 + whole > chunk_size:
                current = []
        for unit in paragraph:
            if current and len(_join([*current, unit])) > chunk_size:
                flush()
                if len(_join([*current, unit])) > chunk_size:
                    current = []
            current.append(unit)
    if current:
        chunks.append(_join(current))
    return chunks


def _paragraphs(text: str, chunk_size: int) -> list[list[tuple[str, str]]]:
    """Each paragraph as sentences (or smaller pieces), each with the separator that precedes it."""
    paragraphs = []
    for paragraph in _PARAGRAPH.split(text):
        paragraph = re.sub(r"[ \t]+", " ", paragraph).strip()
        pieces = [piece for sentence in _SENTENCE.split(paragraph) for piece in _fit(sentence.strip(), chunk_size)]
        units = [("\n\n" if i == 0 else " ", piece) for i, piece in enumerate(p for p in pieces if p)]
        if units:
            paragraphs.append(units)
    return paragraphs


def _fit(sentence: str, chunk_size: int) -> list[str]:
    """`sentence` itself when it fits, else runs of words that fit, cutting over-long words hard."""
    if len(sentence) <= chunk_size:
        return [sentence]
    pieces, current = [], ""
    for word in sentence.split():
        while len(word) > chunk_size:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:chunk_size])
            word = word[chunk_size:]
        if current and len(current) + 1 + len(word) > chunk_size:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


def _join(units: list[tuple[str, str]]) -> str:
    return "".join(unit if i == 0 else separator + unit for i, (separator, unit) in enumerate(units))


def _tail(units: list[tuple[str, str]], overlap: int) -> list[tuple[str, str]]:
    """The last units of a chunk whose text fits in `overlap` characters."""
    tail: list[tuple[str, str]] = []
    length = 0
    for separator, unit in reversed(units):
        length += len(unit) + (len(separator) if tail else 0)
        if length > overlap:
            break
        tail.insert(0, (separator, unit))
    return tail
