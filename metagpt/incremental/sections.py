"""Documents changed section by section: only the sections a change touches are rewritten.

A document's markdown is split at its `## ` headings (outside code fences); an edited section's
body is replaced by the new value rendered as `Document.to_markdown` renders it, and every other
byte of the file stays as it was on disk. The JSON beside it gets the new field values; the
model is asked only for the touched fields, through a pydantic model holding just those fields
of the document's own model (same titles, descriptions and examples).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, create_model

from metagpt.actions.document import Document

_HEADING = re.compile(r"^## (.+?)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
KEPT_SECTIONS = frozenset({"original_requirements"})
"""Fields no change edits: the original requirement is kept, changes are added beside it."""


def field_by_title(model: type[Document], title: str) -> str | None:
    """The field of `model` whose section heading is `title` (case and spacing ignored)."""
    wanted = " ".join(title.split()).casefold()
    for name, info in model.model_fields.items():
        if " ".join((info.title or name).split()).casefold() == wanted or name == title:
            return name
    return None


def editable_titles(model: type[Document]) -> list[str]:
    return [info.title or name for name, info in model.model_fields.items() if name not in KEPT_SECTIONS]


def section_model(model: type[Document], fields: list[str]) -> type[BaseModel]:
    """A model of only `fields` of `model`, each declared as in `model` (for the structured answer)."""
    declared: dict[str, Any] = {
        name: (model.model_fields[name].annotation, model.model_fields[name]) for name in fields
    }
    return create_model(
        f"{model.__name__}Sections", __doc__=f"New text of some sections of the {model.heading}.", **declared
    )


def split_sections(markdown: str) -> list[tuple[str, str]]:
    """`(title, text)` pieces of `markdown` in order; the first has title '' (the part before the
    first `## ` heading). Joined, the texts give back `markdown` exactly."""
    pieces: list[tuple[str, str]] = [("", "")]
    in_fence = False
    for line in markdown.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            pieces.append((heading.group(1), line))
        else:
            title, text = pieces[-1]
            pieces[-1] = (title, text + line)
    return pieces


def section_text(markdown: str, title: str) -> str | None:
    """The text of the section `title` (heading included) as it is in `markdown`."""
    wanted = " ".join(title.split()).casefold()
    for heading, text in split_sections(markdown):
        if heading and " ".join(heading.split()).casefold() == wanted:
            return text
    return None


def apply_section_edits(document: Document, markdown: str, updates: dict[str, Any]) -> tuple[Document, str]:
    """The document with `updates` (field -> new value) and its markdown with only those sections rewritten.

    A section missing from the markdown (the file was edited by hand) is added at its end.
    Raises `ValueError` for a kept field (the original requirement) or an unknown one.
    """
    model = type(document)
    for name in updates:
        if name in KEPT_SECTIONS:
            raise ValueError(
                f"the section {model.model_fields[name].title!r} is kept as written; add changes beside it"
            )
        if name not in model.model_fields:
            raise ValueError(f"{model.__name__} has no section {name!r}")
    changed = model.model_validate({**document.model_dump(), **updates})
    pieces = split_sections(markdown)
    done: set[str] = set()
    for index, (heading, text) in enumerate(pieces):
        field = field_by_title(model, heading) if heading else None
        if field is None or field not in updates or field in done:
            continue
        trailing = text[len(text.rstrip("\n")) :]
        body = changed.section_body(field)
        pieces[index] = (heading, f"## {heading}\n\n{body}{trailing or chr(10)}")
        done.add(field)
    new = "".join(text for _, text in pieces)
    for name in updates:
        if name not in done:
            title = model.model_fields[name].title or name
            new = new.rstrip("\n") + f"\n\n## {title}\n\n{changed.section_body(name)}\n"
    return changed, new
