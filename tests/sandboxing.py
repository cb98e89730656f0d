"""Both sandbox modes as a test parameter: what holds without isolation, and with bubblewrap.

`none` guarantees limits, a clean environment and no stray process; `bwrap` adds isolation (no
view of the parent's processes, files or network). The `bwrap` variant is skipped only where
bubblewrap truly cannot run; CI installs it (`make sandbox`).
"""

from __future__ import annotations

import pytest

from metagpt.sandbox.bwrap import unusable_reason

_REASON = unusable_reason()
BWRAP = pytest.param(
    "bwrap", marks=[pytest.mark.isolated, pytest.mark.skipif(bool(_REASON), reason=f"no isolation: {_REASON}")]
)
MODES = ["none", BWRAP]
"""Parametrize a test over `SANDBOX` values with `@pytest.mark.parametrize("mode", MODES)`."""
