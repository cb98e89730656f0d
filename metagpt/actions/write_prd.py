"""ProductManager's step: the Product Requirement Document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, cast

from loguru import logger
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from metagpt.actions.action import Action, latest_input
from metagpt.actions.add_requirement import UserRequirement
from metagpt.actions.diagram_repair import check_diagrams
from metagpt.actions.document import Document
from metagpt.actions.sentences import salvage_sentence, sentence_problem, shares_topic
from metagpt.utils.structured import SALVAGE

if TYPE_CHECKING:
    from metagpt.provider.base import ModelRequest
    from metagpt.schema import Message


class RequirementItem(BaseModel):
    """One line of the requirement pool."""

    requirement: str
    priority: Literal["P0", "P1", "P2"] = Field(description="P0 must have, P1 should have, P2 nice to have")

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        """Accept MetaGPT's `[requirement, priority]` pairs too."""
        if isinstance(value, list | tuple) and len(value) == 2:
            return {"requirement": value[0], "priority": str(value[1]).strip().upper()}
        return value


class PRD(Document):
    """Product Requirement Document."""

    filename = "prd"
    heading = "Product Requirement Document"

    original_requirements: str = Field(
        title="Original Requirements",
        description="The boss's requirement, restated completely and precisely.",
        examples=["Write a command-line snake game."],
    )
    product_goals: list[str] = Field(
        title="Product Goals",
        description="Up to 3 clear, orthogonal product goals.",
        examples=[["Create an engaging snake game", "Run smoothly in any terminal", "Keep controls simple"]],
        json_schema_extra={"x-sentences": True},
    )
    user_stories: list[str] = Field(
        title="User Stories",
        description="Up to 5 scenario-based user stories.",
        examples=[["As a player, I want to steer the snake with the arrow keys so that I can eat the food"]],
        json_schema_extra={"x-sentences": True},
    )
    competitive_analysis: list[str] = Field(
        title="Competitive Analysis",
        description="Up to 7 competing products, each with its strengths and weaknesses.",
        examples=[["Python Snake Game: simple, but no levels", "nSnake: polished curses UI, few options"]],
    )
    competitive_quadrant_chart: str = Field(
        title="Competitive Quadrant Chart",
        description="Mermaid quadrantChart code placing the competitors and our target product "
        "(scores between 0 and 1).",
        examples=[
            "quadrantChart\n    title Reach and engagement of snake games\n    x-axis Low Reach --> High Reach\n"
            "    y-axis Low Engagement --> High Engagement\n    quadrant-1 We should expand\n"
            "    quadrant-2 Need to promote\n    quadrant-3 Re-evaluate\n    quadrant-4 May be improved\n"
            "    Python Snake Game: [0.3, 0.6]\n    nSnake: [0.45, 0.23]\n    Our Target Product: [0.5, 0.6]"
        ],
        json_schema_extra={"x-mermaid": "competitive_analysis"},
    )
    requirement_analysis: str = Field(
        title="Requirement Analysis",
        description="The requirement analysed: what matters, what is hard, what is out of scope.",
        examples=["The game needs a terminal UI, a game loop, collision detection and a score."],
    )
    requirement_pool: list[RequirementItem] = Field(
        title="Requirement Pool",
        description="Up to 5 requirements with priorities P0/P1/P2.",
        examples=[[{"requirement": "The snake moves and grows when it eats food", "priority": "P0"}]],
    )
    ui_design_draft: str = Field(
        title="UI Design draft",
        description="The UI: elements, their functions, style and layout.",
        examples=["A bordered grid with the snake, the food and the score on top."],
    )
    anything_unclear: str = Field(
        title="Anything UNCLEAR",
        description="Anything unclear in the requirement, or an empty string.",
        examples=[""],
    )

    @field_validator("product_goals", "user_stories")
    @classmethod
    def _sentences_about_the_requirement(cls, items: list[str], info: ValidationInfo) -> list[str]:
        """With the requirement in the validation context (a PRD being written, not one read back):
        every goal and story is a sentence (not a fragment or JSON punctuation). On the last format
        attempt (`SALVAGE`) a bad item is cut to the sentence it starts with, or dropped, with a
        warning; the list must keep at least one sentence."""
        context = info.context or {}
        requirement = context.get("requirement")
        if not requirement:
            return items
        kept = []
        for item in items:
            problem = sentence_problem(item)
            if problem is None:
                kept.append(item)
            elif not context.get(SALVAGE):
                raise ValueError(f"{item!r} is not a sentence ({problem}); write sentences about: {requirement}")
            elif cut := salvage_sentence(item):
                logger.warning(f"PRD {info.field_name}: cut {item!r} to {cut!r} ({problem})")
                kept.append(cut)
            else:
                logger.warning(f"PRD {info.field_name}: dropped {item!r} ({problem})")
        if items and not kept:
            raise ValueError(f"no item of {info.field_name} is a sentence; write sentences about: {requirement}")
        return kept

    @model_validator(mode="after")
    def _restated_requirement(self, info: ValidationInfo) -> PRD:
        """The original requirement is the boss's: a restatement about another product is replaced by it."""
        requirement = (info.context or {}).get("requirement")
        if requirement and not shares_topic(self.original_requirements, requirement):
            self.original_requirements = requirement.strip()
        return self


def idea_reminder(requirement: str) -> str:
    """Read last by the model: the product to write about, so a small model does not answer the example's."""
    return f"Write every section about this product, not the example's: {requirement.strip()}"


class WritePRD(Action):
    """Write the PRD for the boss's requirement."""

    output_model = PRD
    prompt_name = "write_prd"

    def first_request(self, requirement: str) -> ModelRequest:
        """The request `run` sends first for `requirement` (a batch holds its worst case before
        the company makes its folder, `metagpt.batch.preflight`)."""
        return self.llm.model_request(
            self.prompt(requirement=requirement),
            PRD,
            [self.prefix] if self.prefix else None,
            closing=idea_reminder(requirement),
        )

    async def run(self, with_messages: str | list[Message]) -> PRD:
        """Ask for the document, from the newest `UserRequirement` message (or the given text)."""
        requirement = latest_input(with_messages, UserRequirement)
        prd = cast(
            PRD,
            await self.ask_document(
                {"requirement": requirement}, closing=idea_reminder(requirement), requirement=requirement
            ),
        )
        return await check_diagrams(prd, self.llm, [self.prefix] if self.prefix else None)
