"""ProjectManager's step: packages, API spec, logic analysis and the ordered task list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from loguru import logger
from pydantic import BaseModel, Field, ValidationInfo, model_validator

from metagpt.actions.action import Action, latest_input
from metagpt.actions.design_api import SystemDesign, WriteDesign
from metagpt.actions.document import Document
from metagpt.utils.paths import FileList, safe_file_list

if TYPE_CHECKING:
    from metagpt.schema import Message


class FileLogic(BaseModel):
    """What one file must contain."""

    file: str
    description: str

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        """Accept MetaGPT's `[file, description]` pairs too."""
        if isinstance(value, list | tuple) and len(value) == 2:
            return {"file": value[0], "description": value[1]}
        return value


class Tasks(Document):
    """The project manager's breakdown of the design into ordered tasks."""

    filename = "api_spec_and_tasks"
    heading = "API Spec and Tasks"

    required_python_third_party_packages: list[str] = Field(
        title="Required Python third-party packages",
        description="pip requirement lines (e.g. 'flask==3.0.0'); empty when the standard library suffices.",
        examples=[[]],
    )
    required_other_language_third_party_packages: list[str] = Field(
        title="Required Other language third-party packages",
        description="Packages of other languages, or an empty list.",
        examples=[[]],
    )
    full_api_spec: str = Field(
        title="Full API spec",
        description="OpenAPI 3.0 YAML of every API the frontend and backend use; empty when there is none.",
        examples=[""],
    )
    logic_analysis: list[FileLogic] = Field(
        title="Logic Analysis",
        description="For each file: what it contains and what it depends on.",
        examples=[[{"file": "game.py", "description": "Game class: game loop, score, uses Snake"}]],
    )
    task_list: FileList = Field(
        title="Task list",
        description="Every file of the design's file list, dependencies first.",
        examples=[["snake.py", "game.py", "main.py"]],
    )
    shared_knowledge: str = Field(
        title="Shared Knowledge",
        description="Conventions and values every file must agree on.",
        examples=["The board is 20x20 cells; directions are (dx, dy) tuples."],
    )
    anything_unclear: str = Field(
        title="Anything UNCLEAR",
        description="Anything unclear, or an empty string.",
        examples=[""],
    )

    @model_validator(mode="before")
    @classmethod
    def _task_list_from_design(cls, data: Any, info: ValidationInfo) -> Any:
        """A task list that names no file takes the design's file list (`design_files` in the
        validation context), with a warning: weak models often leave it empty."""
        design_files = (info.context or {}).get("design_files")
        if not design_files or not isinstance(data, dict) or _names_files(data.get("task_list")):
            return data
        logger.warning(f"The task list names no file; using the design's file list instead: {design_files}")
        return {**data, "task_list": list(design_files)}


def _names_files(value: Any) -> bool:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return False
    try:
        return bool(safe_file_list(value))
    except ValueError:
        return False


def design_files(messages: str | list[Message]) -> list[str]:
    """The file list of the newest system design among `messages` (none for plain text)."""
    if isinstance(messages, str):
        return []
    for message in reversed(messages):
        if isinstance(message.instruct_content, SystemDesign):
            return list(message.instruct_content.file_list)
    return []


class WriteTasks(Action):
    """Break a system design into tasks."""

    output_model = Tasks
    prompt_name = "write_tasks"

    async def run(self, with_messages: str | list[Message]) -> Tasks:
        """Ask for the document, from the newest `WriteDesign` message (or the given text).

        An answer whose task list names no file is repaired from that design's file list.
        """
        context = {"design_files": design_files(with_messages)}
        return cast(Tasks, await self.ask_document(context, design=latest_input(with_messages, WriteDesign)))
