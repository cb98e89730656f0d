"""Model providers behind one interface (`Provider`), and the factory that picks one.

`ALLOW_MODEL_REQUESTS` guards real providers: the test suite sets it to False so no test can
reach a model by accident; a test that starts its own loopback server sets it back on purpose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metagpt.exceptions import ForbiddenInTests

if TYPE_CHECKING:
    from metagpt.config import Config
    from metagpt.provider.base import Provider

ALLOW_MODEL_REQUESTS = True


def check_allowed(provider_name: str) -> None:
    """Raise when real model requests are switched off (as under tests)."""
    if not ALLOW_MODEL_REQUESTS:
        raise ForbiddenInTests(
            f"Real model requests are forbidden here ({provider_name}); use api_type 'fake' or allow "
            "them explicitly with metagpt.provider.ALLOW_MODEL_REQUESTS = True."
        )


def create_provider(config: Config) -> Provider:
    """The provider the configuration selects."""
    api_type = config.resolved_api_type
    if api_type == "fake":
        from metagpt.provider.fake import FakeProvider

        return FakeProvider()
    if api_type == "local":
        from metagpt.provider.local_llama import LocalLlamaProvider

        return LocalLlamaProvider.from_config(config)
    from metagpt.provider.openai_api import OpenAIProvider

    return OpenAIProvider(config)
