"""The Gemini provider over the real `google-genai` SDK against a loopback Gemini API server:
answers, streams, cost, the request's fields, structured output, and a whole run through the CLI.

Errors, retries and the billing of broken answers: `test_gemini_errors.py`.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from metagpt.config import Config, ModelPrice
from metagpt.exceptions import ConfigError
from metagpt.llm import LLM
from metagpt.provider import gemini_api
from metagpt.provider.base import ModelRequest
from metagpt.provider.gemini_api import GeminiProvider
from metagpt.provider.gemini_wire import gemini_schema
from metagpt.utils.structured import format_instructions
from metagpt.utils.token_counter import count_message_tokens, count_text_tokens
from tests.environ import settings_free_environ
from tests.loopback import llm_maker
from tests.providers.gemini_server import API_KEY, MODEL, GeminiServer, answer, dollars, error, gemini_config, usage

STARTUP = Path(__file__).resolve().parents[2] / "startup.py"
PROTOCOL_PATH = re.compile(rf"^/v1beta/models/{MODEL}:(generateContent|streamGenerateContent\?alt=sse)$")


class Address(BaseModel):
    city: str
    zip_code: str


class Person(BaseModel):
    """The structured answer the tests ask for."""

    name: str
    age: int
    addresses: list[Address]


ADA = Person(name="Ada", age=36, addresses=[Address(city="London", zip_code="W1")])
PERSON_PROMPT = f"Describe Ada Lovelace.\n{format_instructions(Person)}"


@pytest.fixture(autouse=True)
def _forget_rejected_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gemini_api, "_schema_rejected", set())


@pytest.fixture
def server(allow_model_requests: None) -> Iterator[GeminiServer]:
    with GeminiServer() as running:
        yield running
    assert not running.errors, f"the test server failed: {running.errors}"


@pytest.fixture
async def make_llm(server: GeminiServer) -> AsyncIterator[Callable[..., LLM]]:
    """`make_llm(**config)`: an `LLM` on the loopback server with its own context and budget."""
    async with llm_maker(lambda **settings: gemini_config(server, **settings)) as make:
        yield make


# -- answers, streams and what they cost --------------------------------------------------------


async def test_answer_is_charged_its_reported_usage_at_the_model_price(server, make_llm):
    server.plan(answer("Forty-two.", usage=usage(1200, 300)))
    llm = make_llm()

    assert await llm.aask("What is six times seven?", ["You are terse."]) == "Forty-two."

    [request] = server.requests
    assert request.path == f"/v1beta/models/{MODEL}:generateContent"
    assert request.headers["x-goog-api-key"] == API_KEY
    assert "authorization" not in request.headers
    assert request.body == {
        "contents": [{"role": "user", "parts": [{"text": "What is six times seven?"}]}],
        "systemInstruction": {"parts": [{"text": "You are terse."}]},
        "generationConfig": {"maxOutputTokens": 4096, "temperature": 0.0, "stopSequences": []},
    }
    costs = llm.cost_manager
    assert (costs.total.calls, costs.total.prompt_tokens, costs.total.completion_tokens) == (1, 1200, 300)
    assert costs.total_cost == pytest.approx(dollars(1200, 300), rel=1e-12)
    assert costs.by_model[MODEL].calls == 1
    assert costs.remaining == pytest.approx(costs.max_budget - dollars(1200, 300), rel=1e-12)  # nothing held


async def test_stream_delivers_the_pieces_in_order_and_charges_the_last_usage(server, make_llm):
    pieces = ["Once", " upon", " a", " time", "."]
    server.plan(answer(chunks=pieces, usage=usage(321, 5)))
    llm = make_llm()
    deltas: list[str] = []
    llm.stream_sink = deltas.append

    assert await llm.aask("Tell a story.", stream=True) == "Once upon a time."

    assert deltas == [*pieces, "\n"]
    assert server.paths == [f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"]
    assert llm.cost_manager.total_cost == pytest.approx(dollars(321, 5), rel=1e-12)


async def test_cached_tokens_are_priced_as_cache_reads_and_thoughts_as_output(server, make_llm):
    server.plan(answer("Cached.", usage=usage(1000, 200, cached=600, thoughts=50)))
    price = ModelPrice(prompt=0.30, completion=2.50, cache_read=0.075)
    llm = make_llm(model_prices={MODEL: price})

    await llm.aask("hello")

    total = llm.cost_manager.total
    assert (total.prompt_tokens, total.completion_tokens) == (1000, 250)
    assert llm.cost_manager.total_cost == pytest.approx((400 * 0.30 + 600 * 0.075 + 250 * 2.50) / 1e6, rel=1e-12)


async def test_answer_without_usage_is_counted_by_us(server, make_llm):
    server.plan(answer("Counted locally.", report_usage=False))
    llm = make_llm()

    assert await llm.aask("Count me.", stream=True) == "Counted locally."

    ours = (count_message_tokens(llm.messages("Count me."), MODEL), count_text_tokens("Counted locally.", MODEL))
    assert (llm.cost_manager.total.prompt_tokens, llm.cost_manager.total.completion_tokens) == ours


async def test_request_carries_every_setting_with_turns_merged_and_systems_apart(server):
    """max_tokens, temperature and stop are always sent; `assistant` is `model`; turns alternate."""
    provider = GeminiProvider.from_config(gemini_config(server))
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Answer in English."},
        {"role": "user", "content": "First."},
        {"role": "user", "content": "Second."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "Go on."},
    ]
    server.plan(answer("Done.\n```\nnot this"), answer("cut", finish_reason="MAX_TOKENS"))
    try:
        request = ModelRequest(messages=messages, max_tokens=1234, temperature=0.7, stop=["\n```\n"])
        response = await provider.complete(request)
        cut = await provider.complete(request.model_copy(update={"stop": []}))
    finally:
        await provider.aclose()

    assert (response.text, response.finish_reason) == ("Done.", "stop")  # the stop sequence applied
    assert (cut.text, cut.finish_reason) == ("cut", "length")  # MAX_TOKENS
    assert server.bodies[0] == {
        "contents": [
            {"role": "user", "parts": [{"text": "First."}, {"text": "Second."}]},
            {"role": "model", "parts": [{"text": "Noted."}]},
            {"role": "user", "parts": [{"text": "Go on."}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in English."}]},
        "generationConfig": {"maxOutputTokens": 1234, "temperature": 0.7, "stopSequences": ["\n```\n"]},
    }
    assert server.bodies[1]["generationConfig"]["stopSequences"] == []


async def test_a_base_url_ending_in_the_api_version_is_not_doubled(server, make_llm):
    server.plan(answer("ok"))

    assert await make_llm(gemini_base_url=f"{server.base_url}/v1beta").aask("hello") == "ok"

    assert server.paths == [f"/v1beta/models/{MODEL}:generateContent"]


def test_context_window_and_pricing_follow_the_model_and_the_settings(server):
    assert GeminiProvider(gemini_config(server)).context_window == 1_048_576
    assert GeminiProvider(gemini_config(server, context_window=32_000)).context_window == 32_000
    assert GeminiProvider(gemini_config(server)).priced  # a priced model behind a local proxy costs money
    assert not GeminiProvider(gemini_config(server, openai_api_model="gemma-local")).priced
    remote = GeminiProvider(Config(api_type="google", gemini_api_key="k"))
    assert (remote.api_type, remote.base_url, remote.model) == (
        "gemini",
        "https://generativelanguage.googleapis.com",
        MODEL,
    )


def test_missing_sdk_says_how_to_install_it(monkeypatch, server):
    import google

    monkeypatch.delattr(google, "genai", raising=False)
    monkeypatch.setitem(sys.modules, "google.genai", None)

    with pytest.raises(ConfigError, match=re.escape('pip install -e ".[gemini]"')):
        GeminiProvider(gemini_config(server))


# -- structured output ---------------------------------------------------------------------------


PERSON_SCHEMA = {
    "description": "The structured answer the tests ask for.",
    "properties": {
        "name": {"title": "Name", "type": "string"},
        "age": {"title": "Age", "type": "integer"},
        "addresses": {
            "items": {
                "properties": {
                    "city": {"title": "City", "type": "string"},
                    "zip_code": {"title": "Zip Code", "type": "string"},
                },
                "required": ["city", "zip_code"],
                "title": "Address",
                "type": "object",
            },
            "title": "Addresses",
            "type": "array",
        },
    },
    "required": ["name", "age", "addresses"],
    "title": "Person",
    "type": "object",
}


async def test_structured_answer_sends_the_schema_in_gemini_dialect_and_validates(server, make_llm):
    llm = make_llm()  # the realistic server answers a valid sample, and rejects keywords Gemini lacks

    person = await llm.aask_model(PERSON_PROMPT, Person)

    config = server.bodies[0]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == PERSON_SCHEMA  # $ref inlined, no $defs
    assert "responseSchema" not in config
    assert person == Person(name="", age=0, addresses=[Address(city="", zip_code="")])  # the server's sample
    assert [r.status for r in server.requests] == [200]


def test_schema_conversion_inlines_references_and_keeps_only_gemini_keywords():
    class Node(BaseModel):
        label: str = "root"
        kind: str | None = None
        children: list[Node] = []

    schema = {**Node.model_json_schema(), "additionalProperties": False}
    schema["$defs"]["Node"]["properties"]["mode"] = {"const": "fast", "oneOf": [{"type": "string"}]}

    assert gemini_schema(schema) == {
        "properties": {
            "label": {"title": "Label", "type": "string"},
            "kind": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Kind"},
            "children": {"items": {}, "title": "Children", "type": "array"},  # the recursion, cut
            "mode": {"anyOf": [{"type": "string"}], "enum": ["fast"]},
        },
        "title": "Node",
        "type": "object",
    }


async def test_a_rejected_schema_falls_back_to_json_mode_and_is_remembered(server, make_llm):
    rejected = error(400, 'Invalid JSON payload received. Unknown name "responseJsonSchema": Cannot find field.')
    server.plan(rejected, answer(ADA.model_dump_json()), answer(ADA.model_dump_json()))
    llm = make_llm()

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA
    assert await make_llm().aask_model(PERSON_PROMPT, Person) == ADA  # another company, same endpoint

    configs = [body["generationConfig"] for body in server.bodies]
    assert ["responseJsonSchema" in c for c in configs] == [True, False, False]
    assert all(c["responseMimeType"] == "application/json" for c in configs)
    assert llm.cost_manager.total.calls == 1  # the rejected request is not a call
    server.assert_complete()


# -- the CLI, as a user runs it --------------------------------------------------------------------


def run_cli(server: GeminiServer, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python startup.py "a command-line snake game"` in `cwd`, configured only through the environment."""
    environ = settings_free_environ()
    environ.update({"API_TYPE": "gemini", "GEMINI_API_KEY": API_KEY, "GEMINI_BASE_URL": server.base_url, **env})
    return subprocess.run(
        [sys.executable, str(STARTUP), "a command-line snake game"],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_run_on_gemini_builds_the_project_and_journals_the_calls(server, tmp_path):
    result = run_cli(server, tmp_path)

    assert result.returncode == 0, result.stderr
    assert server.requests and all(PROTOCOL_PATH.match(path) for path in server.paths), server.paths
    assert all(r.status == 200 for r in server.requests)  # every schema was in Gemini's dialect
    total = sum(dollars(u["promptTokenCount"], u["candidatesTokenCount"]) for u in server.usages)
    assert f"Spent ${total:.4f} of $3" in result.stderr
    assert "Traceback" not in result.stderr
    root = tmp_path / "workspace" / "cli_snake_game"
    for name in ("snake.py", "game.py", "main.py"):
        assert f"print({name!r})" in (root / "cli_snake_game" / name).read_text()
    with sqlite3.connect(root / ".metagpt" / "state.db") as db:
        rows = db.execute("SELECT api_type, model, status FROM calls").fetchall()
    assert len(rows) == len(server.requests)
    assert set(rows) == {("gemini", MODEL, "ok")}


def test_cli_with_a_refused_key_prints_one_line_and_exits(server, tmp_path):
    result = run_cli(server, tmp_path, GEMINI_API_KEY="not-the-key")

    assert result.returncode == 4, result.stderr
    assert "refused the API key (400 INVALID_ARGUMENT: API key not valid" in result.stderr
    assert "Check GEMINI_API_KEY." in result.stderr
    assert "Traceback" not in result.stderr
    assert len(server.requests) == 1
