"""Module paths MetaGPT scripts import that name a thing of a higher layer than the folder they sit in.

`from metagpt.provider.base_llm import BaseLLM` is how MetaGPT's own code and its tutorials
reach the model class; here that class is `metagpt.llm.LLM`, a layer above the providers. A
module in `metagpt/provider/` importing it would make the providers depend on what is built on
them. Instead the path is an alias, provided from this top layer: `install` (run by
`metagpt/__init__.py`, before any submodule is imported) adds a finder that answers each path of
`ALIASES` with the module it names, loaded on first import and the same object ever after.
"""

from __future__ import annotations

import importlib
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

ALIASES = {
    "metagpt.provider.base_llm": "metagpt.compat.base_llm",
}
"""MetaGPT's module path -> the module of ours that provides its names."""


class _AliasFinder:
    """A meta path finder and loader (the protocols of `importlib.abc`, whose import costs 7 ms)."""

    def find_spec(self, fullname: str, path: object = None, target: ModuleType | None = None) -> ModuleSpec | None:
        return ModuleSpec(fullname, cast("Loader", self)) if fullname in ALIASES else None

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return importlib.import_module(ALIASES[spec.name])  # its own __name__ and __spec__ are kept

    def exec_module(self, module: ModuleType) -> None:
        """Nothing: the module was run when `create_module` imported it."""


def install() -> None:
    """Answer the paths of `ALIASES` (once per process)."""
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
