"""`API_TYPE: ollama` through `LLM` against a loopback Ollama: the conformance cases every provider
passes (answers, streams, structured output, cost, retries, errors, cut or lying answers), and the CLI."""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from metagpt.config import Config
from metagpt.exceptions import AuthenticationError, ConfigError, ForbiddenInTests, ProviderError
from metagpt.llm import LLM
from metagpt.provider import ollama_api
from metagpt.provider.base import ModelRequest, prompt_allowance
from metagpt.provider.ollama_api import OllamaProvider
from metagpt.utils.structured import strict_json_schema
from metagpt.utils.token_counter import count_message_tokens, count_text_tokens
from tests.e2e.test_openai_provider import ADA, ADA_JSON, PERSON_PROMPT, Person
from tests.environ import settings_free_environ
from tests.loopback import llm_maker
from tests.providers.ollama_server import RETRY_NOW, OllamaServer, answer, counts, error, malformed

MODEL = "llama3.2"
PRICE = {"prompt": 2.0, "completion": 8.0, "cache_read": 0.2}
"""Dollars per 1M tokens, set through MODEL_PRICES (Ollama's models are otherwise free)."""
PRICED = {"model_prices": {MODEL: PRICE}}
STARTUP = Path(__file__).resolve().parents[2] / "startup.py"


def dollars(prompt: int, completion: int, cache_read: int = 0) -> float:
    """A call's cost at `PRICE`, computed independently of the cost manager."""
    cost = (prompt - cache_read) * PRICE["prompt"] + cache_read * PRICE["cache_read"]
    return (cost + completion * PRICE["completion"]) / 1_000_000


def reservation(llm: LLM, prompt: str) -> float:
    """What the budget holds for asking `prompt`: the worst case a cut or unreadable answer is charged."""
    counted = count_message_tokens(llm.messages(prompt), MODEL)
    return dollars(prompt_allowance(counted), llm.config.max_tokens)


@pytest.fixture
def ollama(allow_model_requests: None) -> Iterator[OllamaServer]:
    with OllamaServer() as server:
        yield server
    assert not server.errors, f"the test server failed: {server.errors}"


@pytest.fixture
async def make_llm(ollama: OllamaServer) -> AsyncIterator[Callable[..., LLM]]:
    """`make_llm(**config)`: an `LLM` on the loopback Ollama with its own context and budget."""
    async with llm_maker(
        lambda **settings: Config(**{"api_type": "ollama", "ollama_host": ollama.host, **settings})
    ) as make:
        yield make


def assert_charged(llm: LLM, prompt: int, completion: int, cache_read: int = 0) -> None:
    """Exactly one call was charged, these tokens at `PRICE`, and nothing is left reserved."""
    costs = llm.cost_manager
    assert costs.total.calls == 1
    assert (costs.total.prompt_tokens, costs.total.completion_tokens) == (prompt, completion)
    assert costs.total_cost == pytest.approx(dollars(prompt, completion, cache_read), rel=1e-12)
    assert costs.total_cost > 0
    assert costs.by_role["Tester"].cost == costs.by_model[MODEL].cost == costs.total_cost
    assert costs.remaining == pytest.approx(costs.max_budget - costs.total_cost, rel=1e-12)


# -- answers and cost ------------------------------------------------------------------------------


async def test_answer_is_one_chat_request_charged_at_the_reported_counts(ollama, make_llm):
    ollama.plan(answer("Forty-two.", counts=counts(1200, 300)))
    llm = make_llm(**PRICED)

    assert await llm.aask("What is six times seven?", ["You are terse."]) == "Forty-two."

    show, chat = ollama.requests
    assert (show.method, show.path, show.body) == ("POST", "/api/show", {"model": MODEL})
    assert (chat.method, chat.path) == ("POST", "/api/chat")
    assert "authorization" not in chat.headers
    assert chat.body == {
        "model": MODEL,
        "messages": [  # Ollama's chat takes the system prompt as a message of its own
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is six times seven?"},
        ],
        "stream": False,
        "options": {"num_predict": 4096, "temperature": 0.0},  # the answer's cap is always sent
    }
    assert_charged(llm, 1200, 300)


async def test_stream_delivers_the_lines_in_order_and_charges_the_last_one(ollama, make_llm):
    pieces = ["Once", " upon", " a", " time", "."]
    ollama.plan(answer(chunks=pieces, counts=counts(321, 5)))
    llm = make_llm(**PRICED)
    deltas: list[str] = []
    llm.stream_sink = deltas.append

    assert await llm.aask("Tell a story.", stream=True) == "Once upon a time."

    assert deltas == [*pieces, "\n"]
    assert ollama.bodies[0]["stream"] is True
    assert_charged(llm, 321, 5)


async def test_calls_are_free_unless_model_prices_prices_the_model(ollama, make_llm):
    ollama.plan(answer("Free.", counts=counts(1200, 300)))
    llm = make_llm(max_budget=0.0001)  # no worst case is held against a free model's budget

    assert await llm.aask("hello") == "Free."

    assert (llm.cost_manager.total.calls, llm.cost_manager.total.prompt_tokens) == (1, 1200)
    assert llm.cost_manager.total_cost == 0
    remote = Config(api_type="ollama", ollama_host="gpu-box")
    assert OllamaProvider(remote).priced is False  # the user's own machine, wherever it is
    assert OllamaProvider(remote.model_copy(update=PRICED)).priced is True


async def test_a_cached_prompt_is_charged_at_our_count_and_cache_reads_at_their_price(ollama, make_llm):
    # Ollama leaves prompt_eval_count out when the whole prompt came from its cache.
    ollama.plan(answer("Again.", counts=counts(None, 7)), answer("Once more.", counts=counts(900, 4, cached=800)))
    llm = make_llm(**PRICED)

    await llm.aask("Say it again.")
    ours = count_message_tokens(llm.messages("Say it again."), MODEL)
    assert_charged(llm, ours, 7)
    await llm.aask("Say it again.")

    assert llm.cost_manager.total_cost == pytest.approx(dollars(ours, 7) + dollars(900, 4, cache_read=800))


# -- structured output -----------------------------------------------------------------------------


async def test_structured_output_sends_the_schema_as_format(ollama, make_llm):
    ollama.plan(answer(ADA_JSON), answer(ADA_JSON))
    llm = make_llm()

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA
    assert await llm.aask_model(PERSON_PROMPT, Person, stream=True) == ADA

    for body, stream in zip(ollama.bodies, (False, True), strict=True):
        assert body["stream"] is stream
        assert body["format"] == strict_json_schema(Person.model_json_schema())
        assert "response_format" not in body
    schema = ollama.bodies[0]["format"]
    assert (schema["additionalProperties"], schema["required"]) == (False, ["name", "age", "addresses"])
    assert schema["$defs"]["Address"]["required"] == ["city", "zip_code"]
    assert '"addresses"' in ollama.bodies[0]["messages"][-1]["content"]  # the prompt describes it too


async def test_a_server_too_old_for_schemas_gets_plain_json_from_then_on(ollama, make_llm):
    old = "json: cannot unmarshal object into Go struct field ChatRequest.format of type string"
    ollama.plan(error(400, old), answer(ADA_JSON), answer(ADA_JSON))
    llm = make_llm()

    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA
    assert await llm.aask_model(PERSON_PROMPT, Person) == ADA

    assert [isinstance(b["format"], dict) for b in ollama.bodies] == [True, False, False]
    assert [b["format"] for b in ollama.bodies[1:]] == ["json", "json"]
    assert [r.status for r in ollama.chats] == [400, 200, 200]
    assert llm.cost_manager.total.calls == 2  # the rejected request is not a call


# -- the request's fields and the context window -----------------------------------------------------


async def test_temperature_stop_and_context_window_are_sent_as_options(ollama, make_llm):
    ollama.plan(answer("print('hi')\n```\nand more"))
    llm = make_llm(temperature=0.3, max_tokens=1000, context_window=8192)

    response = await llm.acompletion([{"role": "user", "content": "Code, please."}], stop=["\n```"])

    assert response.text == "print('hi')"  # the server stopped where asked
    [chat] = ollama.requests  # CONTEXT_WINDOW is known: the server is not asked for it
    assert chat.body["options"] == {"num_predict": 1000, "temperature": 0.3, "stop": ["\n```"], "num_ctx": 8192}


async def test_the_model_window_is_asked_once_and_prompts_are_trimmed_to_it(ollama, make_llm):
    ollama.context_length = 700
    llm = make_llm(max_tokens=300)
    long_prompt = "Summarise this. " + "word " * 3000

    await llm.aask(long_prompt)
    await llm.aask(long_prompt)

    assert [r.path for r in ollama.requests] == ["/api/show", "/api/chat", "/api/chat"]
    for body in ollama.bodies:
        assert count_message_tokens(body["messages"], MODEL) + body["options"]["num_predict"] <= 700
        assert "num_ctx" not in body["options"]  # the server's own setting is left alone
    ollama.context_length = None  # a server that cannot tell: no window, asked once all the same
    unknown = make_llm()
    assert (unknown.provider.context_window, unknown.provider.context_window) == (None, None)
    assert [r.path for r in ollama.requests].count("/api/show") == 2


async def test_no_request_is_sent_while_tests_forbid_them():
    with OllamaServer() as server:
        provider = OllamaProvider(Config(api_type="ollama", ollama_host=server.host))
        request = ModelRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=10)
        assert provider.context_window is None  # not asked either
        with pytest.raises(ForbiddenInTests):
            await provider.complete(request)
        with pytest.raises(ForbiddenInTests):
            await anext(aiter(provider.stream(request)))
        await provider.aclose()
    assert server.requests == []


def test_without_an_http_client_the_error_says_what_to_install(monkeypatch):
    for name in ("httpx2", "httpx"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    spec = importlib.util.spec_from_file_location("ollama_api_without_httpx", ollama_api.__file__)

    with pytest.raises(ConfigError, match=r"API_TYPE ollama needs httpx, .*: pip install httpx"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


# -- retries --------------------------------------------------------------------------------------


async def test_rate_limit_is_retried_after_the_retry_after_it_names(ollama, make_llm):
    ollama.plan(error(429, "too many requests", headers={"Retry-After": "0.05"}), answer("done", counts=counts(50, 10)))
    llm = make_llm(**PRICED)

    assert await llm.aask("hello") == "done"

    first, second = ollama.chats
    assert (first.status, second.status) == (429, 200)
    assert 0.05 <= second.at - first.at < 0.45  # the header's wait, not the 0.5 s default backoff
    assert first.body == second.body
    assert_charged(llm, 50, 10)


async def test_a_busy_or_failing_server_is_retried_until_it_answers(ollama, make_llm):
    busy = error(503, "server busy, please try again.  maximum pending requests exceeded")
    crashed = error(500, "llama runner process has terminated: unknown model format", headers=RETRY_NOW)
    ollama.plan(busy, crashed, answer("third time lucky", counts=counts(40, 4)))
    llm = make_llm(**PRICED)

    assert await llm.aask("hello") == "third time lucky"

    assert [r.status for r in ollama.chats] == [503, 500, 200]
    assert ollama.chats[1].at - ollama.chats[0].at >= 0.5  # no Retry-After from Ollama: the backoff
    ollama.assert_complete()
    assert_charged(llm, 40, 4)


async def test_retries_end_after_max_retries(ollama, make_llm):
    ollama.plan(*[error(503, "server busy, please try again.", headers=RETRY_NOW)] * 3)
    llm = make_llm(max_retries=1)

    with pytest.raises(ProviderError, match="503: server busy") as raised:
        await llm.aask("hello")

    assert raised.value.retryable
    assert len(ollama.chats) == 2
    assert llm.cost_manager.total.calls == 0


# -- errors that retrying cannot fix -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "raised", "says"),
    [
        (error(401, "unauthorized"), AuthenticationError, r"refused the request \(401: unauthorized\).*OLLAMA_HOST"),
        (
            error(404, f"model '{MODEL}' not found, try pulling it first"),
            ConfigError,
            rf"not found, try pulling it first\. Run `ollama pull {MODEL}`, or set OPENAI_API_MODEL",
        ),
        (
            error(400, "the input length exceeds the context length"),
            ProviderError,
            r"does not fit the model's context window .* Set CONTEXT_WINDOW",
        ),
        (error(429, "you have reached your weekly usage quota"), ProviderError, "no quota left"),
        (
            error(500, "model requires more system memory (5.5 GiB) than is available (1.9 GiB)"),
            ProviderError,
            "Pick a smaller one with OPENAI_API_MODEL",
        ),
    ],
)
async def test_errors_that_retries_cannot_fix_are_one_line_and_sent_once(ollama, make_llm, reply, raised, says):
    ollama.plan(reply)
    llm = make_llm(**PRICED)

    with pytest.raises(raised, match=says) as caught:
        await llm.aask("hello")

    assert "\n" not in str(caught.value)
    assert not getattr(caught.value, "retryable", False)
    assert len(ollama.chats) == 1
    assert llm.cost_manager.total.calls == 0
    assert llm.cost_manager.remaining == llm.cost_manager.max_budget  # the reservation was released


async def test_a_url_that_is_not_ollama_names_ollama_host(ollama, make_llm):
    llm = make_llm(ollama_host=f"{ollama.url}/v1")  # an OpenAI-style URL

    with pytest.raises(ConfigError, match=r"no Ollama API at http://127\.0\.0\.1:\d+/v1/api/chat .*OLLAMA_HOST"):
        await llm.aask("hello")

    assert [r.path for r in ollama.requests] == ["/v1/api/show", "/v1/api/chat"]


async def test_an_unreachable_server_says_to_start_ollama(make_llm):
    with OllamaServer() as stopped:
        llm = make_llm(ollama_host=stopped.host, max_retries=0)
    cannot_reach = r"^Cannot reach http://127\.0\.0\.1:\d+: is `ollama serve` running\? Check OLLAMA_HOST"

    with pytest.raises(ProviderError, match=cannot_reach) as raised:
        await llm.aask("hello")

    assert raised.value.retryable and not raised.value.billable
    assert llm.cost_manager.total.calls == 0


# -- answers we did not get whole are charged their worst case, and no more --------------------------


@pytest.mark.parametrize(
    ("reply", "stream", "says"),
    [
        (answer(chunks=["Half", " an", " answer"], cut_after=2), True, "stopped before its last line"),
        (answer("Half an answer", cut_after=1), False, "connection closed before the answer was complete"),
        (answer(chunks=["Hal", "f"], stream_error="unexpected EOF"), True, "failed while answering: unexpected EOF"),
        (malformed(), False, "not Ollama's JSON"),
        (malformed(), True, "not Ollama's JSON"),
        (answer("late", delay=0.5), False, r"timed out: no complete answer within TIMEOUT=0\.2s"),
        (answer(chunks=list("trickle"), line_delay=0.05), True, r"timed out: no complete answer within TIMEOUT=0\.2s"),
    ],
)
async def test_an_answer_not_received_whole_is_retryable_and_charged_its_reservation(
    ollama, make_llm, reply, stream, says
):
    ollama.plan(reply)
    llm = make_llm(**PRICED, max_retries=0, timeout=0.2, max_tokens=1000)

    with pytest.raises(ProviderError, match=says) as raised:
        await llm.aask("hello", stream=stream)

    assert raised.value.retryable and raised.value.billable
    # The server may have generated (and, behind a paid gateway, billed) up to max_tokens: the
    # call is charged the worst case the budget held for it, never less and never more.
    assert llm.cost_manager.total.calls == 1
    assert llm.cost_manager.total_cost == pytest.approx(reservation(llm, "hello"), rel=1e-12)


async def test_a_cut_answer_is_retried_and_both_attempts_are_paid(ollama, make_llm):
    ollama.plan(answer(chunks=["Half", " an", " answer"], cut_after=1), answer("Whole.", counts=counts(60, 6)))
    llm = make_llm(**PRICED, max_tokens=1000)

    assert await llm.aask("hello", stream=True) == "Whole."

    assert llm.cost_manager.total.calls == 2
    assert llm.cost_manager.total_cost == pytest.approx(reservation(llm, "hello") + dollars(60, 6), rel=1e-12)


@pytest.mark.parametrize(
    "reported",
    [
        counts(10**9, 10**9),  # more than the prompt and max_tokens allow
        counts(20, 5000),  # more completion tokens than max_tokens
        counts(-5, 3),
        {"prompt_eval_count": "12", "eval_count": 3},
        counts(20, 5, cached=30),  # more cached tokens than the prompt holds
        {},  # no counts at all
    ],
)
async def test_counts_no_request_could_produce_are_replaced_by_our_own(ollama, make_llm, reported):
    ollama.plan(answer("A short answer.", counts=reported))
    llm = make_llm(**PRICED, max_tokens=1000)

    await llm.aask("hello", stream=True)

    assert ollama.chats[0].counts == reported  # sent as scripted
    ours = (count_message_tokens(llm.messages("hello"), MODEL), count_text_tokens("A short answer.", MODEL))
    assert_charged(llm, *ours)
    assert llm.cost_manager.total_cost <= reservation(llm, "hello")


# -- the CLI, as a user runs it --------------------------------------------------------------------


def run_cli(server: OllamaServer, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python startup.py "a command-line snake game"` with only API_TYPE and OLLAMA_HOST set."""
    environ = {**settings_free_environ(), "API_TYPE": "ollama", "OLLAMA_HOST": server.host}
    command = [sys.executable, str(STARTUP), "a command-line snake game"]
    return subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=60, check=False)


def test_cli_runs_a_whole_company_on_ollama(ollama, tmp_path):
    result = run_cli(ollama, tmp_path)

    assert result.returncode == 0, result.stderr
    assert {(r.method, r.path) for r in ollama.requests} == {("POST", "/api/show"), ("POST", "/api/chat")}
    assert [r.path for r in ollama.requests].count("/api/show") == 1
    assert len(ollama.chats) == 9 and all(r.status == 200 for r in ollama.chats)
    root = tmp_path / "workspace" / "cli_snake_game"
    for name in ("snake.py", "game.py", "main.py"):
        assert f"print({name!r})" in (root / "cli_snake_game" / name).read_text()
    prompt = sum(r.counts["prompt_eval_count"] for r in ollama.chats)
    completion = sum(r.counts["eval_count"] for r in ollama.chats)
    assert f"Spent $0.0000 of $3.0000 ({prompt} prompt + {completion} completion tokens, 9 calls)" in result.stderr
    with sqlite3.connect(root / ".metagpt" / "state.db") as db:
        rows = db.execute("SELECT api_type, model, base_url, status FROM calls").fetchall()
    assert rows == [("ollama", MODEL, ollama.url, "ok")] * 9


def test_cli_a_refused_request_is_one_line_and_exit_4(ollama, tmp_path):
    ollama.handler = lambda body: error(403, "forbidden")

    result = run_cli(ollama, tmp_path)

    assert result.returncode == 4, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    refused = f"{ollama.url} ({MODEL}) refused the request (403: forbidden)"
    assert line == f"Error: {refused}. Ollama asks for no key: check OLLAMA_HOST."
    assert "Traceback" not in result.stderr
    assert len(ollama.chats) == 1
