"""Is a document item a sentence about the product? The checks behind the PRD's validation.

A small model under a grammar can fill a list with punctuation (`[", 0.3, 0.6], ,"]`), single
words, or the prompt's example about another product. These checks let the structured-output
path refuse such items (a validation error, asked again within `MAX_FORMAT_RETRIES`) instead of
saving them as a finished document.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]{2,}")
_JSON_MARKS = ('"', "[", "]", "{", "}")
MIN_WORDS = 3
FILLER = {
    "a", "an", "and", "app", "application", "cli", "command", "for", "in", "interface", "line", "of", "on",
    "program", "simple", "the", "to", "tool", "with", "write", "make", "create", "build", "python",
}  # fmt: skip
"""Words that say nothing about which product it is."""


def sentence_problem(text: str, min_words: int = MIN_WORDS) -> str | None:
    """Why `text` is not a sentence (too few words, JSON punctuation inside), or None."""
    if any(mark in text for mark in _JSON_MARKS):
        return "it holds JSON punctuation"
    count = len(_WORD.findall(text))
    if count < min_words:
        return f"{count} word{'s' if count != 1 else ''}, a sentence has at least {min_words}"
    return None


def salvage_sentence(text: str) -> str | None:
    """The sentence at the start of `text`, cut before its first JSON mark (`...with the arrow [x`
    gives `...with the arrow`), or None when what is left is not a sentence either."""
    cut = min((text.index(mark) for mark in _JSON_MARKS if mark in text), default=len(text))
    head = text[:cut].rstrip(" ,;:-(")
    return head if head and sentence_problem(head) is None else None


def topic_words(text: str) -> set[str]:
    """The words of `text` that name its subject: lower-cased, singular, without filler."""
    return {word.lower().removesuffix("s") for word in _WORD.findall(text)} - FILLER


def shares_topic(text: str, other: str) -> bool:
    """True when the two texts have a subject word in common."""
    return bool(topic_words(text) & topic_words(other))


def same_text(text: str, other: str) -> bool:
    """Equal but for case, spacing and final punctuation."""

    def norm(value: str) -> str:
        return " ".join(value.lower().split()).rstrip(".!")

    return norm(text) == norm(other)
