"""Azure OpenAI: the same provider, routed by deployment and API version."""

import pytest

from metagpt.config import Config
from metagpt.context import Context
from metagpt.exceptions import ConfigError
from metagpt.llm import LLM
from metagpt.provider.openai_api import OpenAIProvider
from tests.e2e.openai_server import answer, usage

DEPLOYMENT = "gpt-4o-mini"


async def test_azure_requests_go_to_the_deployment_with_the_api_version(openai_server):
    openai_server.chat_path = f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    openai_server.plan(answer("hello from azure", usage=usage(10, 4)))
    config = Config(
        api_type="azure",
        openai_base_url=openai_server.base_url.removesuffix("/v1"),
        openai_api_key="azure-key-123",
        openai_api_model=DEPLOYMENT,
        openai_api_version="2024-10-21",
    )
    context = Context(config)
    try:
        assert await LLM(context).aask("hello") == "hello from azure"
    finally:
        await context.aclose()
    [request] = openai_server.requests
    assert request.path == f"/openai/deployments/{DEPLOYMENT}/chat/completions?api-version=2024-10-21"
    assert request.headers["api-key"] == "azure-key-123"
    assert context.cost_manager.total.prompt_tokens == 10


def test_azure_without_api_version_is_a_config_error():
    config = Config(api_type="azure", openai_base_url="https://example.openai.azure.com", openai_api_key="k")
    with pytest.raises(ConfigError, match="OPENAI_API_VERSION"):
        OpenAIProvider(config)
