"""`CONFIG` of MetaGPT 0.1-0.6 (`from metagpt.config import CONFIG`), as a read-only view.

The view loads the default configuration on first use and answers the names scripts read:
field names (`CONFIG.openai_api_model`), their upper-case keys (`CONFIG.OPENAI_API_MODEL`),
`CONFIG.get(key, default)` and `CONFIG.workspace_path` (resolved to the workspace folder). It
holds no budget: each company still has its own. `CONFIG.git_repo` is the running company's
project repository (`metagpt.context.current_git_repo`: None outside a run), and the one name
that can be set (`set_current_git_repo`). It imports nothing of ours until used, so
`metagpt.config` can hand it out without an import cycle; it sits beside that face, not in
`metagpt.configs`, because reading `git_repo` reaches up to the run's context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class LegacyConfig:
    """A lazy, read-only view of one loaded configuration."""

    def __init__(self, load: Callable[[], Any]):
        object.__setattr__(self, "_load", load)
        object.__setattr__(self, "_config", None)

    @property
    def config(self) -> Any:
        """The configuration, loaded on first use."""
        if self._config is None:
            object.__setattr__(self, "_config", self._load())
        return self._config

    def get(self, key: str, default: Any = None) -> Any:
        try:
            value = getattr(self, key)
        except AttributeError:
            return default
        return default if value is None else value

    def __getattr__(self, key: str) -> Any:
        if key == "git_repo":  # the running company's, not a setting: nothing is loaded for it
            from metagpt.context import current_git_repo

            return current_git_repo()
        config = self.config
        if key == "workspace_path":
            return config.resolve_workspace()
        name = type(config).field_aliases().get(key, key)
        if name == "openai_api_model":  # the model calls use, the provider's default when unset
            return config.resolved_model
        if name in type(config).model_fields:
            return getattr(config, name)
        raise AttributeError(f"CONFIG has no {key!r}; the known keys are the fields of metagpt.config.Config")

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "git_repo":
            from metagpt.context import set_current_git_repo

            set_current_git_repo(value)
            return
        raise AttributeError(
            f"CONFIG is read-only here: set {key.upper()} in config/key.yaml or the environment, "
            "or pass Config(...) to the Team."
        )
