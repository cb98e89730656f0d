"""The change request, the change plan, and the record of one change (`docs/changes/NNNN-<slug>.md`).

The Product Manager's `ChangeRequest` and the Architect's `ChangePlan` are pydantic documents:
their prompts, schemas and validation come from these models. Validation uses the project as it
is (`validation_context`): sections must exist, planned files must exist to be modified, deleted
or renamed, and must not exist to be created; an invalid answer goes back to the model with why.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, create_model, field_validator, model_validator

from metagpt.actions.document import Document
from metagpt.const import DOCS_DIR, LOGS_DIR, RESOURCES_DIR, STATE_DIR
from metagpt.utils.paths import safe_relative_path

ChangeKind = Literal["feature", "bugfix", "refactor"]
PLANNED_OFF_LIMITS = (DOCS_DIR, RESOURCES_DIR, LOGS_DIR, STATE_DIR, "tests")
"""Top-level folders no plan may name: documents are edited by their stage, tests are QA's."""


class SectionRef(BaseModel):
    """One section of one document that the change touches."""

    document: Literal["prd", "system_design", "api_spec_and_tasks"] = Field(
        description="prd (Product Requirement Document), system_design, or api_spec_and_tasks"
    )
    section: str = Field(description="The section's heading, exactly as in the document")


class ChangeRequest(Document):
    """A change to an existing project: what, which kind, how to tell it is done, what it touches."""

    filename = "change_request"
    heading = "Change request"

    title: str = Field(
        title="Title",
        description="A short imperative name for the change, at most 8 words.",
        examples=["Add a pause key"],
    )
    kind: ChangeKind = Field(
        title="Kind",
        description="feature (new behaviour), bugfix (wrong behaviour corrected), or refactor (same behaviour).",
        examples=["feature"],
    )
    request: str = Field(
        title="Request",
        description="The user's request restated completely and precisely for this project.",
        examples=["Pressing P pauses the game; pressing P again resumes it."],
    )
    acceptance_criteria: list[str] = Field(
        title="Acceptance criteria",
        description="Up to 5 testable statements that are true once the change is done.",
        examples=[["Calling pause() stops the snake from moving", "Calling pause() twice resumes the game"]],
    )
    sections_touched: list[SectionRef] = Field(
        title="Sections touched",
        description="The document sections the change requires updating; empty for a bug fix.",
        examples=[[{"document": "prd", "section": "Requirement Pool"}]],
    )

    @field_validator("acceptance_criteria")
    @classmethod
    def _some_criteria(cls, value: list[str]) -> list[str]:
        value = [item.strip() for item in value if item.strip()]
        if not value:
            raise ValueError("give at least one testable acceptance criterion")
        return value

    @field_validator("sections_touched")
    @classmethod
    def _real_sections(cls, value: list[SectionRef], info: ValidationInfo) -> list[SectionRef]:
        """Every section named must exist in its document (`sections` in the validation context)."""
        known: dict[str, list[str]] = (info.context or {}).get("sections") or {}
        for ref in value:
            if _norm(ref.section) == "original requirements":
                raise ValueError("'Original Requirements' stays as written; name the sections the change adds to")
            titles = known.get(ref.document)
            if known and titles is not None and _norm(ref.section) not in {_norm(t) for t in titles}:
                raise ValueError(
                    f"{ref.document} has no section {ref.section!r}; its sections are: {', '.join(titles)}"
                )
        return value

    @property
    def slug(self) -> str:
        words = re.findall(r"[a-z0-9]+", self.title.lower())[:8]
        return "-".join(words) or "change"


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def change_request_model(sections: dict[str, list[str]]) -> type[ChangeRequest]:
    """`ChangeRequest` whose `sections_touched` names only the project's real documents and
    sections: enums in its schema, so an endpoint that enforces the schema cannot name another
    (the validator still checks that each section belongs to its document)."""
    documents = tuple(name for name in ("prd", "system_design", "api_spec_and_tasks") if sections.get(name))
    titles = tuple(sorted({t for name in documents for t in sections[name] if _norm(t) != "original requirements"}))
    if not documents or not titles:
        return ChangeRequest
    ref = create_model(
        "SectionRef",
        __base__=SectionRef,
        document=(Literal[documents], SectionRef.model_fields["document"]),  # type: ignore[arg-type]  # run-time Literals
        section=(Literal[titles], SectionRef.model_fields["section"]),  # type: ignore[arg-type]
    )
    touched = ChangeRequest.model_fields["sections_touched"]
    return create_model("ChangeRequest", __base__=ChangeRequest, sections_touched=(list[ref], touched))


class PlannedFile(BaseModel):
    """One file the change creates, modifies, deletes or renames, and why."""

    action: Literal["create", "modify", "delete", "rename"]
    path: str = Field(description="Project-relative path, e.g. 'calculator/calc.py'")
    new_path: str = Field(description="The new path for a rename; an empty string otherwise")
    reason: str = Field(description="Why the change needs this")

    @field_validator("path", "new_path")
    @classmethod
    def _safe(cls, value: str) -> str:
        if not value.strip():
            return ""
        path = safe_relative_path(value)
        if any(part.endswith(".") for part in path.split("/")):
            raise ValueError(
                f"{path!r}: a file or folder name cannot end in '.'; give the full name, e.g. 'game/main.py'"
            )
        if path.split("/")[0] in PLANNED_OFF_LIMITS:
            raise ValueError(f"{path!r} is not a code file: documents and tests are written by their own stages")
        return path

    @model_validator(mode="after")
    def _new_path_only_for_a_rename(self) -> PlannedFile:
        if self.new_path and self.action != "rename":
            raise ValueError(f"{self.action} {self.path}: new_path is only for a rename; leave it empty")
        return self


class ChangePlan(Document):
    """The Architect's plan: the only files the Engineer may touch."""

    filename = "change_plan"
    heading = "Change plan"

    files: list[PlannedFile] = Field(
        title="Files",
        description="Every code file to create, modify, delete or rename, each with its reason; nothing else.",
        examples=[[{"action": "modify", "path": "game/game.py", "new_path": "", "reason": "Add pause()"}]],
    )

    @model_validator(mode="after")
    def _against_the_project(self, info: ValidationInfo) -> ChangePlan:
        """Files exist where the plan needs them to (`existing` in the validation context)."""
        existing = set((info.context or {}).get("existing") or ())
        if not self.files:
            raise ValueError("the plan names no file; name each code file the change needs")
        seen: set[str] = set()
        for item in self.files:
            if not item.path:
                raise ValueError(f"a {item.action} step has no path")
            if item.path in seen:
                raise ValueError(f"{item.path} is planned twice; give each file one step")
            seen.add(item.path)
            if info.context is None:
                continue
            if item.action == "create" and item.path in existing:
                raise ValueError(f"{item.path} exists already: plan to modify it, not to create it")
            if item.action != "create" and item.path not in existing:
                listed = ", ".join(sorted(existing)) or "none"
                raise ValueError(f"{item.path} does not exist, so it cannot be {item.action}d; the files are: {listed}")
            if item.action == "rename" and (not item.new_path or item.new_path in existing):
                raise ValueError(f"renaming {item.path} needs a new_path that does not exist yet")
        return self

    def touched(self) -> set[str]:
        """Every path the plan lets the Engineer write or remove."""
        return {item.path for item in self.files} | {item.new_path for item in self.files if item.new_path}


class ChangeRecord(BaseModel):
    """Everything about one change, saved as `docs/changes/NNNN-<slug>.json` and rendered to `.md`."""

    number: int
    request_text: str
    """What the user typed."""
    base: str
    """The commit the change started from."""
    request: ChangeRequest
    plan: ChangePlan | None = None
    amendments: list[str] = Field(default_factory=list)
    """Files added to the plan while the change was made, each with why."""
    documents: dict[str, list[str]] = Field(default_factory=dict)
    """Sections edited, by document."""
    tests: list[str] = Field(default_factory=list)
    result: str = ""
    commits: list[str] = Field(default_factory=list)

    @property
    def stem(self) -> str:
        return f"{DOCS_DIR}/changes/{self.number:04d}-{self.request.slug}"

    @property
    def name(self) -> str:
        return f"Change {self.number:04d} ({self.request.title})"

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def to_markdown(self) -> str:
        request = self.request
        lines = [
            f"# {self.name}",
            "",
            f"**Kind:** {request.kind}  ",
            f"**Asked:** {self.request_text}  ",
            f"**Base commit:** `{self.base[:12]}`",
            "",
            "## Request",
            "",
            request.request.strip(),
            "",
            "## Acceptance criteria",
            "",
            *[f"- {item}" for item in request.acceptance_criteria],
            "",
            "## Sections touched",
            "",
            *([f"- {ref.document}: {ref.section}" for ref in request.sections_touched] or ["(none)"]),
        ]
        if self.plan is not None:
            lines += ["", "## Change plan", "", "| action | file | reason |", "| --- | --- | --- |"]
            for item in self.plan.files:
                target = f"{item.path} -> {item.new_path}" if item.new_path else item.path
                lines.append(f"| {item.action} | `{target}` | {_cell(item.reason)} |")
        if self.amendments:
            lines += ["", "## Plan amendments", "", *[f"- {item}" for item in self.amendments]]
        if self.documents:
            lines += ["", "## Documents edited", ""]
            lines += [f"- {stem}: {', '.join(titles)}" for stem, titles in self.documents.items()]
        if self.tests:
            lines += ["", "## Tests", "", *[f"- `{name}`" for name in self.tests]]
        if self.result:
            lines += ["", "## Result", "", self.result]
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def load_record(text: str) -> ChangeRecord:
    return ChangeRecord.model_validate(json.loads(text))


def plan_from(files: list[dict[str, Any]]) -> ChangePlan:
    """A plan built from plain data, without the project checks (for amendments and tests)."""
    return ChangePlan.model_validate({"files": files})
