"""An existing project read from disk, with no model call: documents, code, signatures, tests.

The documents are the SOP's JSON files under `docs/` (the markdown beside them is kept as it is
on disk, so sections a change does not touch stay byte-identical). Code is every source file
outside `docs/`, `resources/`, `logs/` and `tests/`; tests are the Python files under `tests/`.
Files are read without following links (see `safe_read`); what is not read gets a note.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from metagpt.actions.design_api import SystemDesign
from metagpt.actions.document import Document
from metagpt.actions.project_management import Tasks
from metagpt.actions.write_prd import PRD
from metagpt.const import BUNDLE_FILE, DOCS_DIR, LOGS_DIR, REPORT_FILE, RESOURCES_DIR
from metagpt.utils.safe_read import UnsafeFile, read_text, walk_files

DOCUMENT_MODELS: dict[str, type[Document]] = {m.filename: m for m in (PRD, SystemDesign, Tasks)}
"""The SOP documents a change may edit, by file stem."""
CHANGES_DIR = f"{DOCS_DIR}/changes"
SOURCE_SUFFIXES = frozenset(
    {".py", ".pyi", ".js", ".ts", ".jsx", ".tsx", ".html", ".css", ".json", ".toml", ".cfg", ".ini", ".yaml"}
    | {".yml", ".sh", ".txt", ".md", ".rst", ".sql", ".c", ".h", ".go", ".rs", ".java"}
)
"""Files read as the project's code (others are listed but not shown to the model)."""
SKIPPED = frozenset({DOCS_DIR, RESOURCES_DIR, LOGS_DIR, REPORT_FILE, BUNDLE_FILE, "workspace"})
MAX_SOURCE_BYTES = 200_000
_CHANGE_FILE = re.compile(r"^(\d{4})-[\w-]+\.md$")


@dataclass
class ProjectSnapshot:
    """What the project holds now."""

    root: Path
    documents: dict[str, Document] = field(default_factory=dict)
    """SOP documents by stem (`prd`, `system_design`, `api_spec_and_tasks`)."""
    markdown: dict[str, str] = field(default_factory=dict)
    """Each document's markdown as it is on disk."""
    code: dict[str, str] = field(default_factory=dict)
    """Source files (project-relative path -> text), tests excluded."""
    tests: dict[str, str] = field(default_factory=dict)
    other_files: list[str] = field(default_factory=list)
    """Files neither read as code nor tests (binary, large, or of other kinds)."""
    changes: list[str] = field(default_factory=list)
    """Earlier change requests (`docs/changes/NNNN-<slug>.md`), oldest first."""
    notes: list[str] = field(default_factory=list)

    @property
    def has_documents(self) -> bool:
        return all(stem in self.documents for stem in DOCUMENT_MODELS)

    @property
    def package(self) -> str:
        """The folder the design names as the Python package ('' when the code is at the top)."""
        design = self.documents.get("system_design")
        name = design.python_package_name if isinstance(design, SystemDesign) else ""
        return name if any(path.startswith(f"{name}/") for path in self.code) else ""

    @property
    def files(self) -> list[str]:
        return sorted([*self.code, *self.tests, *self.other_files])

    def next_change_number(self) -> int:
        numbers = [int(m.group(1)) for name in self.changes if (m := _CHANGE_FILE.match(name))]
        return max(numbers, default=0) + 1

    def outline(self) -> str:
        """Every code file with its classes and functions (signatures read with `ast`)."""
        return "\n\n".join(f"## {path}\n{signatures(path, text)}" for path, text in sorted(self.code.items()))

    def document_text(self) -> str:
        return "\n\n".join(self.markdown[stem].strip() for stem in DOCUMENT_MODELS if stem in self.markdown)

    def sections(self) -> dict[str, list[str]]:
        """Section titles of each loaded document."""
        return {stem: [f.title or n for n, f in type(doc).model_fields.items()] for stem, doc in self.documents.items()}


def load_project(root: Path) -> ProjectSnapshot:
    """Read the project in `root`; a document whose JSON does not validate is left out with a note."""
    snapshot = ProjectSnapshot(root=Path(root))
    for stem, model in DOCUMENT_MODELS.items():
        try:
            data = json.loads(read_text(root, f"{DOCS_DIR}/{stem}.json"))
            snapshot.documents[stem] = model.model_validate(data)
        except UnsafeFile as error:
            if not str(error).endswith(": missing"):
                snapshot.notes.append(str(error))
            continue
        except (ValueError, ValidationError) as error:
            snapshot.notes.append(f"{DOCS_DIR}/{stem}.json does not hold a valid {model.__name__}: {error}")
            continue
        try:
            snapshot.markdown[stem] = read_text(root, f"{DOCS_DIR}/{stem}.md")
        except UnsafeFile:
            snapshot.markdown[stem] = snapshot.documents[stem].to_markdown()
    for relative, note in walk_files(root / DOCS_DIR / "changes"):
        if not note and len(relative.parts) == 1 and _CHANGE_FILE.match(relative.name):
            snapshot.changes.append(relative.name)
    snapshot.changes.sort()
    for relative, note in walk_files(root, SKIPPED):
        if "__pycache__" in relative.parts:
            continue
        if note:
            snapshot.notes.append(note)
            continue
        _read_source(snapshot, relative)
    return snapshot


def _read_source(snapshot: ProjectSnapshot, relative: PurePosixPath) -> None:
    path = relative.as_posix()
    if relative.suffix not in SOURCE_SUFFIXES:
        snapshot.other_files.append(path)
        return
    try:
        text = read_text(snapshot.root, path, MAX_SOURCE_BYTES)
    except (UnsafeFile, UnicodeDecodeError) as error:
        snapshot.notes.append(f"{path}: not read ({error})")
        snapshot.other_files.append(path)
        return
    if relative.parts[0] == "tests" and relative.suffix == ".py":
        snapshot.tests[path] = text
    else:
        snapshot.code[path] = text


def signatures(path: str, text: str) -> str:
    """The classes, functions and methods of a Python file with their signatures and first
    docstring line; other files (and Python that does not parse) are summarised by size."""
    if not path.endswith(".py"):
        return f"({len(text.splitlines())} lines)"
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        return f"(does not parse: {error.msg}, line {error.lineno})"
    lines: list[str] = []
    for node in tree.body:
        lines += _describe(node, "")
    return "\n".join(lines) or f"({len(text.splitlines())} lines, no classes or functions)"


def _describe(node: ast.stmt, indent: str) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
        returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        return [f"{indent}{prefix} {node.name}({ast.unparse(node.args)}){returns}{_doc(node)}"]
    if isinstance(node, ast.ClassDef):
        bases = f"({', '.join(ast.unparse(b) for b in node.bases)})" if node.bases else ""
        lines = [f"{indent}class {node.name}{bases}:{_doc(node)}"]
        for child in node.body:
            lines += _describe(child, indent + "    ")
        return lines
    if isinstance(node, ast.Assign | ast.AnnAssign) and not indent:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [ast.unparse(t) for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
        return [f"{name} = ..." for name in names]
    return []


def _doc(node: ast.AST) -> str:
    docstring = ast.get_docstring(node)  # type: ignore[arg-type]
    return f"  # {docstring.strip().splitlines()[0][:100]}" if docstring and docstring.strip() else ""
