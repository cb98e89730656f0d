"""`GitRepository`: MetaGPT 0.6-0.7's handle on a project's git repository.

`context.git_repo` gives one for the current project (None before a project is open), and so does
MetaGPT 0.6's `CONFIG.git_repo` in a running company's actions; scripts also build one on a folder
(`GitRepository(path, auto_init=True)`). It runs git through the project's `GitHistory`, so every
command has the same protections (`git_safe`).

    repo = context.git_repo
    repo.workdir                          # the project folder
    repo.changed_files                    # {"main.py": "U", "docs/prd.md": "M"}
    repo.commit("Add the game loop")      # stage everything, commit it
"""

from __future__ import annotations

import shutil
from pathlib import Path

from metagpt.utils.git_history import GitHistory

UNTRACKED = "U"
"""`changed_files` code of a file git does not track yet (MetaGPT's `ChangeType.UNTRACTED`)."""


class GitRepository:
    """A project folder's git repository, read and committed synchronously.

    Args:
        local_path: the folder; None for a handle `open` points at a folder later.
        auto_init: make the folder a repository when it is not one yet.
    """

    def __init__(self, local_path: str | Path | None = None, auto_init: bool = True):
        self._history: GitHistory | None = None
        if local_path is not None:
            self.open(local_path, auto_init=auto_init)

    @classmethod
    def of(cls, history: GitHistory) -> GitRepository:
        """A handle on `history`'s folder (nothing is created until a change is committed)."""
        repo = cls()
        repo._history = history
        return repo

    def open(self, local_path: str | Path, auto_init: bool = False) -> None:
        """Point at `local_path`; with `auto_init`, make it a repository when it is none, and commit
        its `.gitignore` (as MetaGPT did), so a fresh repository has no changed files."""
        self._history = GitHistory(Path(local_path))
        if auto_init and not self.is_valid:
            self._history.init()
            if self.is_valid:
                self._git("add", "--", ".gitignore")
                self._git("commit", "-q", "--no-verify", "-m", "Add .gitignore")

    @property
    def workdir(self) -> Path | None:
        """The repository's folder (its work tree)."""
        return self._history.path if self._history is not None else None

    @property
    def is_valid(self) -> bool:
        """Whether the folder is a git repository (and git is available)."""
        history = self._history
        return history is not None and (history.path / ".git").exists() and history.enabled

    @property
    def status(self) -> str:
        """`git status` of the work tree ("" when not a repository)."""
        return self._git("status", "--untracked-files=all") if self.is_valid else ""

    @property
    def changed_files(self) -> dict[str, str]:
        """Changed paths, relative to `workdir`, each with git's one-letter code: `U` (untracked),
        `A`, `M`, `D` or `R`. Empty when nothing changed or the folder is not a repository."""
        if not self.is_valid:
            return {}
        listing = self._git("status", "--porcelain", "-z", "--untracked-files=all", "--no-renames")
        changed: dict[str, str] = {}
        for entry in filter(None, listing.split("\0")):
            code, path = entry[:2], entry[3:]
            changed[path] = UNTRACKED if code == "??" else (code.strip() or "M")[0]
        return changed

    def add_change(self, files: dict[str, str]) -> None:
        """Stage `files` (as `changed_files` lists them): deletions removed, the others added."""
        for path, change in files.items():
            if change == "D":
                self._git("rm", "-q", "--cached", "--ignore-unmatch", "--", path)
            else:
                self._git("add", "--", path)

    def commit(self, comments: str) -> str | None:
        """Stage every change and commit it with `comments`; the new commit's short sha, or None
        when nothing changed."""
        if self._history is None:
            raise ValueError("GitRepository.commit: no folder is open; call open(path, auto_init=True) first")
        if not self.is_valid:
            self._history.init()
        self._git("add", "-A")
        if self._history.git("diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        self._git("commit", "-q", "--no-verify", "-m", comments)
        return self._git("rev-parse", "--short", "HEAD").strip()

    def archive(self, comments: str = "Archive") -> str | None:
        """MetaGPT's end-of-run commit: everything, with `comments`."""
        return self.commit(comments)

    def delete_repository(self) -> None:
        """Delete the repository's folder with everything in it, as MetaGPT's tests clean up.

        Raises:
            ValueError: the folder is a symbolic link or not a git repository (nothing is deleted).
        """
        workdir = self.workdir
        if workdir is None or not workdir.exists():
            return
        if workdir.is_symlink() or not (workdir / ".git").exists():
            raise ValueError(f"{workdir} is not a git repository's folder; nothing was deleted")
        shutil.rmtree(workdir)

    def _git(self, *args: str) -> str:
        assert self._history is not None
        return self._history.git(*args).stdout

    def __repr__(self) -> str:
        return f"GitRepository({str(self.workdir)!r})"
