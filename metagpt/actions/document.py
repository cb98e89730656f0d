"""`Document`: the base of every SOP output model, and its markdown rendering.

A document's fields are its sections: each field's `title` is the section heading, its
`description` is the instruction given to the model, and its `examples` show the format.
Fields holding mermaid code name the resource file they are saved to with
`json_schema_extra={"x-mermaid": "<file stem>"}`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Document(BaseModel):
    """A structured SOP document (PRD, system design, task list)."""

    model_config = ConfigDict(extra="ignore")

    filename: ClassVar[str]
    """Stem of the files this document is saved to under `docs/`."""
    heading: ClassVar[str]

    @classmethod
    def mermaid_stems(cls) -> dict[str, str]:
        """Field name -> resource file stem, for the fields that hold mermaid code."""
        stems = {}
        for name, field in cls.model_fields.items():
            extra = field.json_schema_extra
            if isinstance(extra, dict) and extra.get("x-mermaid"):
                stems[name] = str(extra["x-mermaid"])
        return stems

    def mermaid_resources(self) -> dict[str, str]:
        """Mermaid diagrams of this document, keyed by resource file stem."""
        return {stem: strip_fence(getattr(self, name)) for name, stem in self.mermaid_stems().items()}

    def to_markdown(self) -> str:
        """The document as markdown: one `##` section per field."""
        parts = [f"# {self.heading}"]
        for name, field in type(self).model_fields.items():
            parts.append(f"## {field.title or name}\n\n{self.section_body(name)}")
        return "\n\n".join(parts) + "\n"

    def section_body(self, name: str) -> str:
        """The markdown under the heading of field `name` (a mermaid field as a fenced diagram)."""
        value = getattr(self, name)
        return f"```mermaid\n{strip_fence(value)}\n```" if name in self.mermaid_stems() else render_value(value)


def render_value(value: Any) -> str:
    """Markdown for one section value."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return "\n".join(f"- **{k}**: {render_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        if not value:
            return "(none)"
        return "\n".join(f"- {render_inline(item)}" for item in value)
    text = str(value).strip()
    return text or "(none)"


def render_inline(item: Any) -> str:
    if isinstance(item, BaseModel):
        item = item.model_dump()
    if isinstance(item, dict):
        return ": ".join(str(v) for v in item.values())
    if isinstance(item, list | tuple):
        return ": ".join(str(v) for v in item)
    return str(item)


def strip_fence(text: str) -> str:
    """Mermaid code without a surrounding ```mermaid fence."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        if text.rstrip().endswith("```"):
            text = text.rstrip()[:-3]
    return text.strip()
