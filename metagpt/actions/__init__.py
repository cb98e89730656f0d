"""Actions: the public `Action` base, and the SOP steps with the documents they produce.

`WriteTest`, `WriteCodeReview`, `RunCode`, `DebugError` and `ActionType` are exported as MetaGPT
exports them, imported on first use so that `import metagpt.actions` stays quick.
"""

from __future__ import annotations

import importlib
from typing import Any

from metagpt.actions.action import Action
from metagpt.actions.action_output import ActionOutput
from metagpt.actions.add_requirement import BossRequirement, UserRequirement
from metagpt.actions.design_api import SystemDesign, WriteDesign
from metagpt.actions.project_management import Tasks, WriteTasks
from metagpt.actions.search_and_summarize import SearchAndSummarize
from metagpt.actions.write_code import WriteCode
from metagpt.actions.write_prd import PRD, WritePRD

_LAZY = {
    "ActionType": "metagpt.actions.action_type",
    "DebugError": "metagpt.actions.debug_error",
    "RunCode": "metagpt.actions.run_code",
    "WriteCodeReview": "metagpt.actions.write_code_review",
    "WriteTest": "metagpt.actions.write_test",
}

__all__ = [
    "PRD",
    "Action",
    "ActionOutput",
    "ActionType",
    "BossRequirement",
    "DebugError",
    "RunCode",
    "SearchAndSummarize",
    "SystemDesign",
    "Tasks",
    "UserRequirement",
    "WriteCode",
    "WriteCodeReview",
    "WriteDesign",
    "WritePRD",
    "WriteTasks",
    "WriteTest",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
