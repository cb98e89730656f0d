"""The stages of one change before the code: documents for a bare folder, the change request,
the document edits and the change plan; each stage ends with a commit naming the change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loguru import logger

from metagpt.actions.action import Action
from metagpt.actions.design_api import SystemDesign
from metagpt.actions.document import Document
from metagpt.actions.project_management import Tasks
from metagpt.actions.write_prd import PRD
from metagpt.const import DOCS_DIR
from metagpt.incremental.change import ChangePlan, ChangeRecord
from metagpt.incremental.change_actions import DescribeProject, EditSections, WriteChangePlan, WriteChangeRequest
from metagpt.incremental.project import ProjectSnapshot, load_project, signatures
from metagpt.incremental.sections import KEPT_SECTIONS, apply_section_edits, editable_titles, field_by_title

if TYPE_CHECKING:
    from metagpt.configs.settings import Config
    from metagpt.incremental.history import ChangeHistory
    from metagpt.project_repo import ProjectRepo
    from metagpt.roles.role import Role

OWNERS = {"prd": "Product Manager", "system_design": "Architect", "api_spec_and_tasks": "Project Manager"}
"""Which role edits (or first writes) each document."""
MAX_DESCRIBED_BYTES = 12_000
"""Code shown per file when documents are written for a folder of code (longer files are cut)."""


class Stages:
    """The change's state shared by its stages: the project, its roles, the record so far."""

    def __init__(self, project: ProjectRepo, roles: dict[str, Role], request: str, base: str, config: Config):
        self.project = project
        self.config = config
        self.history: ChangeHistory = project.history  # type: ignore[assignment]
        self.roles = roles
        self.request_text = request
        self.base = base
        self.snapshot: ProjectSnapshot = load_project(project.path)
        self.record: ChangeRecord | None = None

    # -- helpers ------------------------------------------------------------------------------

    def action(self, cls: type[Action], profile: str) -> Action:
        """An action run by the role `profile`: its model, its system prompt, its share of the cost."""
        role = self.roles[profile]
        action = cls()
        action.set_llm(role.llm)
        action.set_prefix(role.system_prompt)
        return action

    async def commit(self, stage: str) -> None:
        """Commit the stage, the message naming the change (its request, before it has a number)."""
        name = self.record.name if self.record is not None else f"Before the change {self.request_text!r}"
        sha = await self.history.record(f"{name}: {stage}")
        if sha is not None and self.record is not None:
            self.record.commits.append(f"{sha[:8]} {stage}")

    def save_record(self) -> None:
        record = self.record
        assert record is not None
        self.project.write(f"{record.stem}.json", record.to_json(), reserved=True)
        self.project.write(f"{record.stem}.md", record.to_markdown(), reserved=True)

    def change_text(self) -> str:
        """The change request as the later stages' prompts show it (plan included once there is one)."""
        assert self.record is not None
        text = self.record.to_markdown()
        return text.split("\n## Documents edited", 1)[0].strip()

    # -- a folder of code without documents ---------------------------------------------------

    async def describe(self) -> None:
        """Write the PRD, design and task list that describe the code as it is; commit them alone."""
        code = "\n\n".join(
            f"## {path}\n```\n{text[:MAX_DESCRIBED_BYTES]}\n```" for path, text in sorted(self.snapshot.code.items())
        )
        written: list[str] = []
        for model in (PRD, SystemDesign, Tasks):
            profile = OWNERS[model.filename]
            logger.info(f"{profile}: describing the existing code in the {model.heading}")
            document = await self.action(DescribeProject, profile).run(model, code or "(no code)", "\n\n".join(written))
            document = self._describe_as_is(document)
            self.project.save_document(document)
            written.append(document.to_markdown())
        await self.commit("documents describing the existing code")
        self.snapshot = load_project(self.project.path)

    def _describe_as_is(self, document: Document) -> Document:
        """The file lists of a described project name the files that exist, whatever the model listed."""
        files = sorted(path for path in self.snapshot.code if not path.startswith("tests/"))
        if isinstance(document, SystemDesign):
            folders = {p.split("/")[0] if "/" in p else "" for p in files if p.endswith(".py")}
            package = folders.pop() if len(folders) == 1 and "" not in folders else ""
            if not package:
                return document.model_copy(update={"file_list": files})
            inside = [p[len(package) + 1 :] for p in files if p.startswith(f"{package}/")]
            return document.model_copy(update={"python_package_name": package, "file_list": inside})
        if isinstance(document, Tasks):
            return document.model_copy(update={"task_list": files or document.task_list})
        return document

    # -- the change request -------------------------------------------------------------------

    async def write_request(self) -> ChangeRecord:
        snapshot = self.snapshot
        tests = "\n\n".join(f"## {path}\n{signatures(path, text)}" for path, text in sorted(snapshot.tests.items()))
        project = {
            "documents": snapshot.document_text() or "(none)",
            "outline": snapshot.outline() or "(no code)",
            "tests": tests or "(none)",
            "changes": "\n".join(f"- {name}" for name in snapshot.changes) or "(none)",
        }
        sections = {stem: editable_titles(type(doc)) for stem, doc in snapshot.documents.items()}
        request = await self.action(WriteChangeRequest, "Product Manager").run(self.request_text, project, sections)
        self.record = ChangeRecord(
            number=snapshot.next_change_number(), request_text=self.request_text, base=self.base, request=request
        )
        logger.info(f"{self.record.name}: {request.kind}, {len(request.acceptance_criteria)} acceptance criteria")
        self.save_record()
        await self.commit("change request")
        return self.record

    # -- documents and plan -------------------------------------------------------------------

    async def edit_documents(self) -> None:
        """Rewrite the sections the request names, each document by its owner; the rest stays byte-identical."""
        record = self.record
        assert record is not None
        wanted: dict[str, list[str]] = {}
        for ref in record.request.sections_touched:
            document = self.snapshot.documents.get(ref.document)
            name = field_by_title(type(document), ref.section) if document is not None else None
            if name is not None and name not in KEPT_SECTIONS and name not in wanted.get(ref.document, []):
                wanted.setdefault(ref.document, []).append(name)
        for stem, fields in wanted.items():
            document = self.snapshot.documents[stem]
            action = self.action(EditSections, OWNERS[stem])
            updates = await action.run(document, self.snapshot.markdown[stem], fields, self.change_text())
            self._save_edits(stem, updates)

    def _save_edits(self, stem: str, updates: dict[str, Any]) -> None:
        document, markdown = apply_section_edits(self.snapshot.documents[stem], self.snapshot.markdown[stem], updates)
        self.project.write(f"{DOCS_DIR}/{stem}.md", markdown, reserved=True)
        self.project.write(f"{DOCS_DIR}/{stem}.json", document.model_dump_json(indent=2), reserved=True)
        diagrams = document.mermaid_resources()
        for name, diagram_stem in document.mermaid_stems().items():
            if name in updates:  # written and rendered as a new project's are
                self.project.save_diagram(diagram_stem, diagrams[diagram_stem])
        self.snapshot.documents[stem], self.snapshot.markdown[stem] = document, markdown
        titles = [type(document).model_fields[name].title or name for name in updates]
        assert self.record is not None
        edited = self.record.documents.setdefault(stem, [])
        edited += [title for title in titles if title not in edited]

    async def write_plan(self) -> ChangePlan:
        """The Architect's change plan; the design's file list and the task list follow it."""
        record = self.record
        assert record is not None
        design = self.snapshot.markdown.get("system_design", "(no design)")
        files = self.snapshot.files
        plan = await self.action(WriteChangePlan, "Architect").run(
            self.change_text(), design, files, self.snapshot.outline()
        )
        record.plan = plan
        self._follow_plan(plan)
        self.save_record()
        stage = "change plan" if record.request.kind == "bugfix" else "documents and change plan"
        await self.commit(stage)
        return plan

    def _follow_plan(self, plan: ChangePlan) -> None:
        package = self.snapshot.package
        for stem, field in (("system_design", "file_list"), ("api_spec_and_tasks", "task_list")):
            document = self.snapshot.documents.get(stem)
            if document is None:
                continue
            listed = list(getattr(document, field))
            updated = list(listed)
            for item in plan.files:  # a file is the same however it is spelt (`pkg/a.py`, `a.py`)
                path = _in_package(item.path, package)
                names = [_in_package(name, package) for name in updated]
                if item.action == "create" and path not in names:
                    updated.append(path)
                elif item.action == "delete" and path in names:
                    del updated[names.index(path)]
                elif item.action == "rename":
                    new = _in_package(item.new_path, package)
                    updated = [new if name == path else original for name, original in zip(names, updated, strict=True)]
                    if new not in updated:
                        updated.append(new)
            if updated != listed:
                self._save_edits(stem, {field: updated})


def _in_package(path: str, package: str) -> str:
    """A project path as the design lists it: package-relative when it is inside the package."""
    return path[len(package) + 1 :] if package and path.startswith(f"{package}/") else path
