"""What one company (or one standalone `LLM`) shares: config, budget, rate limit, provider."""

from __future__ import annotations

from metagpt.config import Config
from metagpt.cost_manager import CostManager
from metagpt.project_repo import ProjectRepo
from metagpt.provider.base import Provider
from metagpt.utils.rate_limiter import RateLimiter


class Context:
    """Shared state of one company. Never global: each company builds its own."""

    def __init__(
        self,
        config: Config | None = None,
        cost_manager: CostManager | None = None,
        provider: Provider | None = None,
    ):
        self.config = config or Config.default()
        self.cost_manager = cost_manager or CostManager(self.config.max_budget, self.config.model_prices)
        self.rate_limiter = RateLimiter(self.config.rpm)
        self._provider = provider
        self.project: ProjectRepo | None = None
        """The project folder the roles write to, once a project has started."""

    @property
    def provider(self) -> Provider:
        """The configured provider, created on first use and shared by every role."""
        if self._provider is None:
            from metagpt.provider import create_provider

            self._provider = create_provider(self.config)
        return self._provider

    async def aclose(self) -> None:
        """Close the provider's connections, if one was created."""
        if self._provider is not None:
            await self._provider.aclose()
