"""Model providers behind one interface (`Provider`), and the factory that picks one.

`ALLOW_MODEL_REQUESTS` guards real providers: the test suite sets it to False so no test can
reach a model by accident; a test that starts its own loopback server sets it back on purpose.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from metagpt.exceptions import ForbiddenInTests

if TYPE_CHECKING:
    from metagpt.configs.catalogue import Preset
    from metagpt.configs.settings import Config
    from metagpt.provider.base import Provider

ALLOW_MODEL_REQUESTS = True


def check_allowed(provider_name: str) -> None:
    """Raise when real model requests are switched off (as under tests)."""
    if not ALLOW_MODEL_REQUESTS:
        raise ForbiddenInTests(
            f"Real model requests are forbidden here ({provider_name}); use api_type 'fake' or allow "
            "them explicitly with metagpt.provider.ALLOW_MODEL_REQUESTS = True."
        )


ProviderFactory = Callable[["Config"], "Provider"]

_FACTORIES: dict[str, ProviderFactory] = {}
"""Wire protocol (`metagpt.configs.catalogue.Protocol`) or `api_type` -> what builds its provider."""


def register_provider(name: str, factory: ProviderFactory, preset: Preset | None = None) -> None:
    """Let `api_type: name` (or every `api_type` speaking protocol `name`) build its provider with `factory`.

    An `api_type` registered by name wins over the protocol it would otherwise use. A new name
    becomes a known `api_type` (with `preset`'s default URL, key and model when given). A package
    of its own can also add one without being imported first: an entry point in the
    `metagpt.providers` group (`metagpt.configs.catalogue.PLUGIN_GROUP`).
    """
    from metagpt.configs.catalogue import add_api_type

    _FACTORIES[name] = factory
    add_api_type(name, preset)


def _builtin(module: str, cls: str) -> ProviderFactory:
    def build(config: Config) -> Provider:
        import importlib

        provider: Provider = getattr(importlib.import_module(f"metagpt.provider.{module}"), cls).from_config(config)
        return provider

    return build


for _protocol, (_module, _cls) in {
    "fake": ("fake", "FakeProvider"),
    "local": ("local_llama", "LocalLlamaProvider"),
    "openai": ("openai_api", "OpenAIProvider"),
    "azure": ("openai_api", "OpenAIProvider"),
    "anthropic": ("anthropic_api", "AnthropicProvider"),
    "gemini": ("gemini_api", "GeminiProvider"),
    "ollama": ("ollama_api", "OllamaProvider"),
}.items():
    register_provider(_protocol, _builtin(_module, _cls))


def create_provider(config: Config) -> Provider:
    """The provider the configuration selects: its `api_type`'s factory, else its protocol's."""
    from metagpt.configs.catalogue import PRESETS

    api_type = config.resolved_api_type
    factory = _FACTORIES.get(api_type) or _FACTORIES.get(PRESETS[api_type].protocol) or _plugin(api_type)
    return factory(config)


def _plugin(api_type: str) -> ProviderFactory:
    """The factory an installed package declares for `api_type` (entry point group `metagpt.providers`)."""
    from metagpt.configs.catalogue import PLUGIN_GROUP, plugin_entry_points
    from metagpt.exceptions import ConfigError

    point = plugin_entry_points().get(api_type)
    if point is None:
        raise ConfigError(f"API_TYPE {api_type}: no provider is registered under this name.")
    try:
        loaded = point.load()
    except Exception as exc:  # the other package's import failed: one line naming it
        raise ConfigError(
            f"API_TYPE {api_type}: {PLUGIN_GROUP} entry point {point.value} failed to load: {exc}"
        ) from exc
    # A provider class is built with its `from_config`; anything else loaded is the factory itself.
    factory: ProviderFactory = loaded.from_config if isinstance(loaded, type) else loaded  # type: ignore[attr-defined]
    _FACTORIES[api_type] = factory
    return factory


def prepare(config: Config) -> threading.Thread | None:
    """Load what the first call to an endpoint needs (the SDK, the certificate store), in a
    background thread, while the company sets its project up.

    The first call would otherwise spend most of a second on it before it is sent. Nothing is
    lost when the thread is not done in time: an import being loaded is waited for, not loaded
    twice. For endpoints over HTTP (the embedded model loads itself), and for each provider the
    `roles:` entries name. The token vocabulary is not loaded: a call counts its prompt by an
    upper bound and the server reports its usage (`metagpt.reservation`); the vocabulary loads,
    once, only for a call that needs an exact count.
    """
    import importlib

    from metagpt.configs.catalogue import PRESETS

    modules = {"openai": "openai_api", "azure": "openai_api", "anthropic": "anthropic_api", "gemini": "gemini_api"}
    configs = [config, *(config.for_role(entry.role) for entry in config.roles)]
    wanted = [(c, PRESETS[c.resolved_api_type].protocol) for c in configs]
    wanted = [(c, protocol) for c, protocol in wanted if protocol in (*modules, "ollama")]
    if not wanted:
        return None

    def load() -> None:
        from metagpt.provider.openai_api import tls_context

        for _, protocol in wanted:
            if protocol in modules:
                try:
                    importlib.import_module(f"metagpt.provider.{modules[protocol]}")
                except Exception:  # a missing SDK is reported, in one line, when the provider is built
                    continue
        tls_context()

    thread = threading.Thread(target=load, name="metagpt-prepare", daemon=True)
    thread.start()
    return thread
