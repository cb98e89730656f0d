"""`ActionType`: MetaGPT's enumeration of the SOP's actions (`ActionType.WRITE_PRD.value` is `WritePRD`)."""

from __future__ import annotations

from enum import Enum

from metagpt.actions.add_requirement import UserRequirement
from metagpt.actions.debug_error import DebugError
from metagpt.actions.design_api import WriteDesign
from metagpt.actions.project_management import WriteTasks
from metagpt.actions.run_code import RunCode
from metagpt.actions.search_and_summarize import SearchAndSummarize
from metagpt.actions.write_code import WriteCode
from metagpt.actions.write_code_review import WriteCodeReview
from metagpt.actions.write_prd import WritePRD
from metagpt.actions.write_test import WriteTest


class ActionType(Enum):
    """Each SOP action by MetaGPT's name for it; the value is the action class."""

    ADD_REQUIREMENT = UserRequirement
    WRITE_PRD = WritePRD
    WRITE_DESIGN = WriteDesign
    WRITE_TASKS = WriteTasks
    WRITE_CODE = WriteCode
    WRITE_CODE_REVIEW = WriteCodeReview
    WRITE_TEST = WriteTest
    RUN_CODE = RunCode
    DEBUG_ERROR = DebugError
    SEARCH_AND_SUMMARIZE = SearchAndSummarize
