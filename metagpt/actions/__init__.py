"""Actions: the public `Action` base, and the SOP steps with the documents they produce."""

from metagpt.actions.action import Action
from metagpt.actions.action_output import ActionOutput
from metagpt.actions.add_requirement import BossRequirement, UserRequirement
from metagpt.actions.design_api import SystemDesign, WriteDesign
from metagpt.actions.project_management import Tasks, WriteTasks
from metagpt.actions.search_and_summarize import SearchAndSummarize
from metagpt.actions.write_code import WriteCode
from metagpt.actions.write_prd import PRD, WritePRD

__all__ = [
    "PRD",
    "Action",
    "ActionOutput",
    "BossRequirement",
    "SearchAndSummarize",
    "SystemDesign",
    "Tasks",
    "UserRequirement",
    "WriteCode",
    "WriteDesign",
    "WritePRD",
    "WriteTasks",
]
