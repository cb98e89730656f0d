"""What one company (or one standalone `LLM`) shares: config, budget, rate limit, provider."""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from metagpt.configs.settings import Config
from metagpt.cost_manager import CostManager
from metagpt.logs import register_config_secrets
from metagpt.project_repo import ProjectRepo
from metagpt.provider.base import Provider
from metagpt.utils.rate_limiter import RateLimiter

if TYPE_CHECKING:
    from metagpt.configs.metagpt_config import MetaGPTConfig
    from metagpt.experience import ExperienceSession
    from metagpt.journal import Journal
    from metagpt.render import DiagramRenderer
    from metagpt.utils.git_repository import GitRepository


class AttrDict(BaseModel):
    """Values read and written as attributes or items (`context.kwargs.x`, `kwargs["x"]`).

    MetaGPT 0.7's pydantic model: `AttrDict(a=1)`, `AttrDict.model_validate({...})`, `set`/`get`/
    `remove`; a missing key reads None, and deleting one that is not there raises AttributeError.
    """

    model_config = ConfigDict(extra="allow")

    @property
    def _values(self) -> dict[str, Any]:
        return self.__pydantic_extra__  # type: ignore[return-value]  # every value is an extra

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):  # pickling and copy probe dunders: answer them as a normal object
            raise AttributeError(key)
        return self._values.get(key)

    def __setattr__(self, key: str, value: Any) -> None:
        self._values[key] = value

    def __delattr__(self, key: str) -> None:
        if key not in self._values:
            raise AttributeError(f"No such attribute: {key}")
        del self._values[key]

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        del self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def set(self, key: str, val: Any) -> None:
        self._values[key] = val

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def remove(self, key: str) -> None:
        """Forget `key` (nothing happens when it is not there)."""
        self._values.pop(key, None)

    def keys(self) -> list[str]:
        return list(self._values)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._values.items())


class Context:
    """Shared state of one company. Never global: each company builds its own.

    `config` is our `Config` with MetaGPT 0.7-0.8's views on it (`config.llm.model`,
    `config.workspace.path`, `config.get_openai_llm()`); `kwargs` holds a script's own values.
    """

    def __init__(
        self,
        config: Config | None = None,
        cost_manager: CostManager | None = None,
        provider: Provider | None = None,
    ):
        from metagpt.configs.metagpt_config import MetaGPTConfig  # MetaGPT's views, loaded when used

        self.config: MetaGPTConfig = MetaGPTConfig.of(config) if config is not None else MetaGPTConfig.default()
        register_config_secrets(self.config, Path(os.environ.get("METAGPT_ROOT") or Path.cwd()))
        self.kwargs = AttrDict()
        """Values a script keeps on the context (MetaGPT 0.7's `context.kwargs`)."""
        self.cost_manager = cost_manager or CostManager(self.config.max_budget, self.config.model_prices)
        self.rate_limiter = RateLimiter(self.config.rpm)
        self._provider = provider
        self._providers: dict[str, Provider] = {}
        """Providers of roles that use a model of their own (`roles:`), one per distinct configuration."""
        self._diagrams: DiagramRenderer | None = None
        self.project: ProjectRepo | None = None
        """The project folder the roles write to, once a project has started."""
        self._journal: Journal | None = None
        self._journal_set = False
        self._experience: ExperienceSession | None = None
        self._experience_set = False
        self._git_repo: GitRepository | None = None
        self._git_repo_set = False

    @property
    def journal(self) -> Journal | None:
        """Where every model call is recorded: the project's, set by the company, or the
        `STATE_DB` file for standalone calls; None when neither is configured."""
        if not self._journal_set:
            self._journal_set = True
            if self.config.state_db is not None:
                from metagpt.journal import Journal

                self._journal = Journal(self.config.state_db.expanduser())
        return self._journal

    @journal.setter
    def journal(self, journal: Journal | None) -> None:
        self._journal, self._journal_set = journal, True

    @property
    def experience(self) -> ExperienceSession | None:
        """The workspace's experience pool as this company reads and writes it; None unless
        `EXP_POOL_ENABLED` (and reading or writing) is on, so that with it off nothing changes."""
        if not self._experience_set:
            self._experience_set = True
            config = self.config
            if config.exp_pool_enabled and (config.exp_pool_read or config.exp_pool_write):
                from metagpt.experience import ExperiencePool, ExperienceSession, model_family

                pool = ExperiencePool.of_workspace(config.resolve_workspace(), config.exp_pool_max_entries)
                self._experience = ExperienceSession(
                    pool, config.exp_pool_read, config.exp_pool_write, lambda: model_family(self.provider.model)
                )
        return self._experience

    @experience.setter
    def experience(self, session: ExperienceSession | None) -> None:
        self._experience, self._experience_set = session, True

    @property
    def provider(self) -> Provider:
        """The configured provider, created on first use and shared by every role."""
        if self._provider is None:
            from metagpt.provider import create_provider

            self._provider = create_provider(self.config)
        return self._provider

    def provider_for(self, config: Config) -> Provider:
        """The provider `config` selects: the company's own for the company's configuration, else one
        per distinct configuration, shared by the roles that use it. All are charged to one budget."""
        if config is self.config:
            return self.provider
        key = repr(sorted((name, repr(value)) for name, value in dict(config).items()))
        if key not in self._providers:
            from metagpt.provider import create_provider

            register_config_secrets(config, Path(os.environ.get("METAGPT_ROOT") or Path.cwd()))
            self._providers[key] = create_provider(config)
        return self._providers[key]

    @property
    def git_repo(self) -> GitRepository | None:
        """MetaGPT 0.7's handle on the current project's repository (`commit`, `changed_files`,
        `workdir`); None until a project is open. Built on first use; creates nothing."""
        if self._git_repo_set:
            return self._git_repo
        if self.project is None:
            return None
        if self._git_repo is None or self._git_repo.workdir != self.project.path:
            from metagpt.utils.git_repository import GitRepository

            self._git_repo = GitRepository.of(self.project.history)
        return self._git_repo

    @git_repo.setter
    def git_repo(self, repo: GitRepository | None) -> None:
        """Use `repo` as the project's repository (None: no repository), as MetaGPT scripts do."""
        self._git_repo, self._git_repo_set = repo, True

    @contextmanager
    def as_current(self) -> Iterator[Context]:
        """Make this the running company's context while the block runs (`current_context()`,
        MetaGPT 0.6's `CONFIG.git_repo`), in this asyncio task and the tasks it starts; the
        previous one (usually none) is current again afterwards. Runs (`Team.run`, `Role.run`...)
        enter it: a context var, so companies running side by side each see their own."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)

    @property
    def src_workspace(self) -> Path | None:
        """The current project's folder, once a project has started."""
        return self.project.path if self.project is not None else None

    @property
    def diagrams(self) -> DiagramRenderer:
        """Checks and renders this company's mermaid diagrams; its browser starts on first use."""
        if self._diagrams is None:
            from metagpt.render import DiagramRenderer

            self._diagrams = DiagramRenderer(self.config)
        return self._diagrams

    async def aclose(self) -> None:
        """Close the provider's connections and the diagram browser, if they were created."""
        if self._diagrams is not None:
            await self._diagrams.aclose()
        for provider in [self._provider, *self._providers.values()]:
            if provider is not None:
                await provider.aclose()
        if self._journal is not None:
            self._journal.close()


_current: ContextVar[Context | None] = ContextVar("metagpt_current_context", default=None)
"""The context of the run going on in this asyncio task (or thread); see `Context.as_current`."""

_loose_git_repo: ContextVar[GitRepository | None] = ContextVar("metagpt_loose_git_repo", default=None)
"""`CONFIG.git_repo = repo` outside a run: kept for this task (or thread) and the tasks it starts."""


class _HasContext(Protocol):
    @property
    def context(self) -> Context: ...


_S = TypeVar("_S", bound=_HasContext)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def runs_as_current(
    run: Callable[Concatenate[_S, _P], Awaitable[_R]],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _R]]:
    """Decorates a company's `run`: its context is current (`Context.as_current`) while it runs."""

    @functools.wraps(run)
    async def running(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self.context.as_current():
            return await run(self, *args, **kwargs)

    return running


def current_context() -> Context | None:
    """The context of the company (or role) running in this asyncio task; None outside a run."""
    return _current.get()


def current_git_repo() -> GitRepository | None:
    """MetaGPT 0.6's `CONFIG.git_repo`: the running company's `context.git_repo`; outside a run, or
    in a run whose context has neither a project nor a repository set, what `set_current_git_repo`
    set outside a run in this task (None unless it did)."""
    context = _current.get()
    if context is not None and (context.project is not None or context._git_repo_set):
        return context.git_repo
    return _loose_git_repo.get()


def set_current_git_repo(repo: GitRepository | None) -> None:
    """MetaGPT 0.6's `CONFIG.git_repo = repo`: during a run, the running company's `context.git_repo`;
    outside one, the repository this asyncio task (and the tasks it starts later) reads there."""
    context = _current.get()
    if context is not None:
        context.git_repo = repo
    else:
        _loose_git_repo.set(repo)
