"""Architect's step: the system design."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from pydantic import Field, field_validator

from metagpt.actions.action import Action, latest_input
from metagpt.actions.diagram_repair import check_diagrams
from metagpt.actions.document import Document
from metagpt.actions.write_prd import WritePRD
from metagpt.utils.paths import FileList, package_name

if TYPE_CHECKING:
    from metagpt.schema import Message


class SystemDesign(Document):
    """System design: approach, package, files, data structures and call flow."""

    filename = "system_design"
    heading = "System Design"

    implementation_approach: str = Field(
        title="Implementation approach",
        description="The difficult points of the requirement and the open-source frameworks chosen for them.",
        examples=["Use the standard library's curses for the terminal UI and a fixed-rate game loop."],
    )
    python_package_name: str = Field(
        title="Python package name",
        description="A short snake_case Python package name for the product.",
        examples=["cli_snake_game"],
    )
    file_list: FileList = Field(
        title="File list",
        description="Relative paths of the files to write, main.py first; only what is needed.",
        examples=[["main.py", "game.py", "snake.py"]],
    )
    data_structures_and_interfaces: str = Field(
        title="Data structures and interface definitions",
        description="Mermaid classDiagram code with classes, typed attributes, methods and relations.",
        examples=[
            "classDiagram\n    class Game {\n        +int score\n        +start() None\n    }\n"
            "    class Snake {\n        +list body\n        +move() None\n    }\n    Game --> Snake"
        ],
        json_schema_extra={"x-mermaid": "data_api_design"},
    )
    program_call_flow: str = Field(
        title="Program call flow",
        description="Mermaid sequenceDiagram code using the classes and methods of the class diagram.",
        examples=[
            "sequenceDiagram\n    participant M as Main\n    participant G as Game\n    M->>G: start()\n"
            "    G->>G: loop until game over"
        ],
        json_schema_extra={"x-mermaid": "seq_flow"},
    )
    anything_unclear: str = Field(
        title="Anything UNCLEAR",
        description="Anything unclear in the PRD, or an empty string.",
        examples=[""],
    )

    @field_validator("python_package_name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        name = package_name(value)
        if not name:
            raise ValueError("python_package_name must contain letters, e.g. 'snake_game'")
        return name


class WriteDesign(Action):
    """Design the system for a PRD."""

    output_model = SystemDesign
    prompt_name = "write_design"

    async def run(self, with_messages: str | list[Message]) -> SystemDesign:
        """Ask for the document, from the newest `WritePRD` message (or the given text)."""
        design = cast(SystemDesign, await self.ask_document(prd=latest_input(with_messages, WritePRD)))
        return await check_diagrams(design, self.llm, [self.prefix] if self.prefix else None)
