"""The project folder under the workspace, written safely.

Nothing outside the folder is ever written, an existing folder is never reused or deleted
(a free name is chosen instead), and each file is written atomically as soon as it exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from loguru import logger

from metagpt.actions.document import Document
from metagpt.const import DOCS_DIR, RESOURCES_DIR
from metagpt.utils.paths import safe_relative_path, to_identifier


def free_path(path: Path) -> Path:
    """`path`, or `path_2`, `path_3`... whichever does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}_{n}")
    return candidate


class ProjectRepo:
    """One generated project.

    Args:
        workspace: folder holding all projects.
        name: folder name; free text is turned into a snake_case name.
        fixed: when True the name was chosen by the user and `adopt_name` keeps it.
    """

    def __init__(self, workspace: Path, name: str, fixed: bool = False):
        self.fixed = fixed
        base = to_identifier(name, drop_filler=not fixed) or "project"
        self.path = free_path(Path(workspace).resolve() / base)
        self.path.mkdir(parents=True)
        self.files: list[Path] = []

    def adopt_name(self, name: str) -> None:
        """Rename the folder to the design's package name, unless the user chose a name."""
        base = to_identifier(name)
        if self.fixed or not base or self.path.name == base:
            return
        target = free_path(self.path.with_name(base))
        try:
            self.path.rename(target)
        except OSError as exc:
            logger.warning(f"Kept the project folder {self.path} (could not rename it to {target.name}: {exc})")
            return
        self.files = [target / f.relative_to(self.path) for f in self.files]
        self.path = target

    def resolve(self, relative: str) -> Path:
        """Absolute path of `relative` inside the project; raises `ValueError` if it would escape."""
        path = (self.path / safe_relative_path(relative)).resolve()
        if not path.is_relative_to(self.path.resolve()):
            raise ValueError(f"{relative!r} points outside the project folder")
        return path

    def write(self, relative: str, content: str) -> Path:
        """Write one file atomically and remember it."""
        path = self.resolve(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(path)
        if path not in self.files:
            self.files.append(path)
        logger.debug(f"wrote {path}")
        return path

    def save_document(self, document: Document) -> None:
        """`docs/<name>.md` and `.json`, plus `resources/<diagram>.mmd` for each mermaid field."""
        self.write(f"{DOCS_DIR}/{document.filename}.md", document.to_markdown())
        self.write(f"{DOCS_DIR}/{document.filename}.json", document.model_dump_json(indent=2))
        for stem, code in document.mermaid_resources().items():
            self.write(f"{RESOURCES_DIR}/{stem}.mmd", code + "\n")

    def read_json(self, relative: str) -> dict:
        return json.loads(self.resolve(relative).read_text(encoding="utf-8"))
