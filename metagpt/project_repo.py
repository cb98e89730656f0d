"""The project folder under the workspace, written safely.

Nothing outside the folder is ever written, no symbolic link is ever followed inside it, an
existing folder is never reused or deleted (a free name is chosen instead), generated files
never land on the project's own reserved paths, and each file is written atomically as soon as
it exists.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from metagpt.const import DOCS_DIR, RESERVED_NAMES, RESOURCES_DIR
from metagpt.exceptions import ProjectFolderError
from metagpt.utils.atomic import write_atomic
from metagpt.utils.git_history import GitHistory
from metagpt.utils.paths import safe_relative_path, to_identifier

if TYPE_CHECKING:
    from metagpt.render import DiagramRenderer


STAGING_MARK = ".staging-"
"""In the hidden name of a project folder being set up (`.<name>.staging-<pid>-<random>`)."""

MAX_JSON_BYTES = 16 << 20
"""Largest project JSON document read back (a fifo, a device or a huge file is refused)."""


class SavedDocument(Protocol):
    """What `ProjectRepo.save_document` writes: a document with its file stem, its markdown, its
    JSON and its diagrams. Every SOP document (`metagpt.actions.document.Document`) is one; the
    project folder needs no more of it, so it stays below the actions that write documents."""

    @property
    def filename(self) -> str: ...

    def to_markdown(self) -> str: ...

    def model_dump_json(self, *, indent: int | None = None) -> str: ...

    def mermaid_resources(self) -> dict[str, str]: ...


def free_path(path: Path, mine: Path | None = None) -> Path:
    """`path`, or `path_2`, `path_3`... whichever does not exist yet (a dangling link exists).

    `mine` is a folder that may take the name: it is returned when it is the first candidate
    found in the sequence, so renaming a folder to a name it already has changes nothing.
    """
    candidate, n = path, 1
    while os.path.lexists(candidate) and candidate != mine:
        n += 1
        candidate = path.with_name(f"{path.name}_{n}")
    return candidate


class ProjectRepo:
    """One generated project.

    Args:
        workspace: folder holding all projects.
        name: folder name; free text is turned into a snake_case name.
        fixed: when True the name was chosen by the user and `adopt_name` keeps it.
        renderer: renders each saved diagram next to its `.mmd` file, in the background.

    Raises:
        ProjectFolderError: the workspace cannot hold a new folder.
    """

    files: list[Path]
    history: GitHistory
    journal: Any

    def __init__(
        self,
        workspace: Path,
        name: str,
        fixed: bool = False,
        renderer: DiagramRenderer | None = None,
        staged: bool = False,
    ):
        self.fixed = fixed
        self.renderer = renderer
        base = to_identifier(name, drop_filler=not fixed) or "project"
        self._base = base
        self.staged = staged
        """Created under a hidden staging name; `publish()` gives it its name (see there)."""
        try:
            if staged:
                self.path = Path(workspace).resolve() / f".{base}{STAGING_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
            else:
                self.path = free_path(Path(workspace).resolve() / base)
            self.path.mkdir(parents=True)
        except OSError as exc:
            raise ProjectFolderError(
                f"Cannot create the project folder {Path(workspace) / base}: {exc.strerror or exc}. "
                "Check WORKSPACE_PATH and --project-name."
            ) from None
        self._setup()

    def publish(self) -> None:
        """Give a staged folder its real name, once what must be in it from the start is there.

        A company records its run in the journal inside the staged folder first, so a folder
        under its real name always holds a journal and resumes, whenever the process is killed.
        The name is reserved with an exclusive `mkdir` (two runs never take the same one), then
        the staged folder replaces that empty reservation in one atomic rename.
        """
        if not self.staged:
            return
        if self.journal is not None:
            self.journal.close()  # reopened at the new place on its next use
        workspace = self.path.parent
        for _ in range(1000):
            target = free_path(workspace / self._base)
            try:
                target.mkdir()
            except FileExistsError:
                continue  # another run took it between the look and the mkdir
            except OSError as exc:
                raise ProjectFolderError(f"Cannot create the project folder {target}: {exc.strerror or exc}.") from None
            os.rename(self.path, target)
            break
        else:
            raise ProjectFolderError(f"Cannot find a free project folder name for {self._base} in {workspace}.")
        self.files = [target / f.relative_to(self.path) for f in self.files]
        self.path, self.history.path, self.staged = target, target, False

    def _setup(self) -> None:
        self.files = []
        self.history = GitHistory(self.path)
        """The folder's git history, once `history.init()` made it a repository (a company run does)."""
        self.journal = None
        """The project's call journal, closed while the folder is renamed (its database is inside)."""

    @classmethod
    def open(cls, path: Path, fixed: bool = True, renderer: DiagramRenderer | None = None) -> ProjectRepo:
        """An existing project folder, to resume or change; nothing is created.

        Raises:
            ProjectFolderError: `path` is not a folder.
        """
        path = Path(path)
        if path.is_symlink() or not path.is_dir():
            raise ProjectFolderError(f"{path} is not a project folder; pass the folder under the workspace.")
        repo = cls.__new__(cls)
        repo.fixed, repo.renderer, repo.path = fixed, renderer, path.resolve()
        repo._setup()
        return repo

    def adopt_name(self, name: str) -> None:
        """Rename the folder to the design's package name, unless the user chose a name."""
        base = to_identifier(name)
        if self.fixed or not base:
            return
        target = free_path(self.path.with_name(base), mine=self.path)
        if target == self.path:
            return
        if self.journal is not None:
            self.journal.close()  # reopened at the new place on its next use
        try:
            self.path.rename(target)
        except OSError as exc:
            logger.warning(f"Kept the project folder {self.path} (could not rename it to {target.name}: {exc})")
            return
        self.files = [target / f.relative_to(self.path) for f in self.files]
        self.path = target
        self.history.path = target

    def resolve(self, relative: str) -> Path:
        """Absolute path of `relative` inside the project.

        Raises `ValueError` for a malformed path and `ProjectFolderError` when a part of it is a
        symbolic link (which could lead outside the folder or onto another file).
        """
        parts = safe_relative_path(relative).split("/")
        path = self.path
        for part in parts:
            path = path / part
            if path.is_symlink():
                where = "points outside the project folder" if _escapes(path, self.path) else "is a symbolic link"
                raise ProjectFolderError(
                    f"Refusing to write {relative!r}: {path} {where}. MetaGPT never writes through links; "
                    "remove it and run again."
                )
        return path

    def write(self, relative: str, content: str, *, reserved: bool = False) -> Path:
        """Write one text file atomically and remember it; returns where it went (see `write_bytes`).

        Every secret we know (configured keys, key-shaped strings) is masked first: documents,
        code and reports never hold one, whatever a model or a test printed.
        """
        from metagpt.logs import redact

        return self.write_bytes(relative, redact(content).encode("utf-8"), reserved=reserved)

    def write_bytes(self, relative: str, content: bytes, *, reserved: bool = False) -> Path:
        """Write one file atomically (see `write_atomic`) and remember it; returns where it went.

        Generated files never replace the project's own ones: unless `reserved` is set (for
        documents and requirements), a path under `docs/`, `resources/`, `logs/` or onto
        `requirements.txt` raises `ValueError`. A path whose name is taken by a folder, or whose
        folder is taken by a file, gets a free `_2` name instead, with a warning.
        """
        relative = safe_relative_path(relative)
        if not reserved and relative.split("/")[0] in RESERVED_NAMES:
            raise ValueError(f"{relative!r} is reserved for the project's own files; put code in its package")
        path = self._place(self.resolve(relative))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, content)
        except OSError as exc:
            raise ProjectFolderError(f"Cannot write {path}: {exc.strerror or exc}.") from None
        if path not in self.files:
            self.files.append(path)
        logger.debug(f"wrote {path}")
        return path

    def _place(self, path: Path) -> Path:
        """`path`, renamed where a file would need a folder's name or a folder a file's name."""
        relative = path.relative_to(self.path)
        current = self.path
        for index, part in enumerate(relative.parts):
            is_file = index == len(relative.parts) - 1
            candidate = current / part
            clash = candidate.is_dir() if is_file else (candidate.exists() and not candidate.is_dir())
            if clash:
                stem, dot, suffix = part.partition(".") if is_file else (part, "", "")
                n = 2
                while os.path.lexists(current / f"{stem}_{n}{dot}{suffix}"):
                    n += 1
                renamed = current / f"{stem}_{n}{dot}{suffix}"
                taken = f"{'folder' if is_file else 'file'} {candidate.relative_to(self.path)}"
                logger.warning(f"{relative} clashes with the {taken}; using {renamed.name}")
                candidate = renamed
            current = candidate
        return current

    def save_document(self, document: SavedDocument) -> None:
        """`docs/<name>.md` and `.json`, plus `resources/<diagram>.mmd` for each mermaid field.

        With a renderer, each diagram is also rendered to `resources/<diagram>.svg`/`.png` later.
        """
        self.write(f"{DOCS_DIR}/{document.filename}.md", document.to_markdown(), reserved=True)
        self.write(f"{DOCS_DIR}/{document.filename}.json", document.model_dump_json(indent=2), reserved=True)
        for stem, code in document.mermaid_resources().items():
            self.save_diagram(stem, code)

    def save_diagram(self, stem: str, code: str) -> None:
        """`resources/<stem>.mmd`, rendered to `.svg`/`.png` later with a renderer (renders of an
        earlier version are removed first: a failed render leaves the source only, never a stale picture)."""
        self.write(f"{RESOURCES_DIR}/{stem}.mmd", code + "\n", reserved=True)
        if self.renderer is not None:
            for old in self.resolve(RESOURCES_DIR).glob(f"{stem}.*"):
                if old.suffix != ".mmd" and old.is_file() and not old.is_symlink():
                    old.unlink()
            self.renderer.submit(stem, code, functools.partial(self.write_bytes, reserved=True))

    def save_requirements(self, lines: list[str]) -> Path:
        """`requirements.txt` with one pip requirement a line, blank lines dropped."""
        text = "".join(f"{line.strip()}\n" for line in lines if line.strip())
        return self.write("requirements.txt", text, reserved=True)

    async def commit(self, message: str, pictures: bool = False) -> None:
        """Record the folder's current state in its git history (when git is available); the
        rendered diagrams only with `pictures` (the run's last commit)."""
        await self.history.commit(message, pictures)

    def read_json(self, relative: str) -> dict:
        from metagpt.utils.safe_read import read_bytes

        self.resolve(relative)  # refuses a malformed path or a link on it, naming it
        return json.loads(read_bytes(self.path, safe_relative_path(relative), MAX_JSON_BYTES))


def _escapes(link: Path, root: Path) -> bool:
    try:
        return not link.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a loop of links
        return True
