"""Model providers behind one interface (`Provider`), and the factory that picks one.

`ALLOW_MODEL_REQUESTS` guards real providers: the test suite sets it to False so no test can
reach a model by accident; a test that starts its own loopback server sets it back on purpose.
"""

from __future__ import annotations

import threading
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


def prepare(config: Config) -> threading.Thread | None:
    """Load what the first call to an endpoint needs (the SDK, the token vocabulary, the
    certificate store), in a background thread, while the company sets its project up.

    The first call would otherwise spend most of a second on it before it is sent. Nothing is
    lost when the thread is not done in time: an import or a vocabulary being loaded is waited
    for, not loaded twice. Only for OpenAI-compatible endpoints (the embedded model loads itself).
    """
    if config.resolved_api_type in ("fake", "local"):
        return None

    def load() -> None:
        from metagpt.provider.openai_api import tls_context
        from metagpt.utils.token_counter import encoding_name_for, get_encoding

        get_encoding(encoding_name_for(config.openai_api_model))
        tls_context()

    thread = threading.Thread(target=load, name="metagpt-prepare", daemon=True)
    thread.start()
    return thread
