"""`WorkspaceConfig`: MetaGPT 0.7-0.8's `config.workspace`, a view onto `Config.workspace_path`."""

from __future__ import annotations

from pathlib import Path

from metagpt.configs.llm_config import set_field
from metagpt.configs.settings import Config


class WorkspaceConfig:
    """`config.workspace.path`: the folder generated projects go to (`WORKSPACE_PATH`)."""

    use_uid = False
    uid = ""

    def __init__(self, config: Config):
        self.config = config

    @property
    def path(self) -> Path:
        return self.config.resolve_workspace()

    @path.setter
    def path(self, path: str | Path) -> None:
        set_field(self.config, "workspace_path", Path(path))

    def __repr__(self) -> str:
        return f"WorkspaceConfig(path={str(self.path)!r})"
