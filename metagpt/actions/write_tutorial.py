"""The tutorial assistant's two steps: a tutorial's directory, then the content of one section."""

from __future__ import annotations

from pydantic import BaseModel, Field

from metagpt.actions.action import Action


class TutorialDirectory(BaseModel):
    """A tutorial's title and its sections, each with its subsections."""

    title: str = Field(description="The tutorial's title.", examples=["A gentle introduction to MySQL"])
    directory: list[dict[str, list[str]]] = Field(
        description="The sections in order, each `{section title: [subsection titles]}`.",
        examples=[[{"Getting started": ["Installing MySQL", "Connecting"]}, {"Queries": ["SELECT", "JOIN"]}]],
    )


class WriteDirectory(Action):
    """Write the directory (title, sections, subsections) of a tutorial on a topic."""

    language: str = "English"

    async def run(self, topic: str, *args: object, **kwargs: object) -> dict:
        prompt = (
            f"You are now a seasoned technical professional in the field of the internet. We need you to write "
            f"a technical tutorial with the topic {topic!r}. Write the tutorial's directory: its title, and its "
            f"sections with their subsections, in {self.language}."
        )
        return (await self._aask_model(prompt, TutorialDirectory)).model_dump()


class WriteContent(Action):
    """Write one section of a tutorial in markdown, following its part of the directory."""

    language: str = "English"
    directory: dict = Field(default_factory=dict)

    async def run(self, topic: str, *args: object, **kwargs: object) -> str:
        prompt = (
            f"You are now a seasoned technical professional in the field of the internet. We need you to write "
            f"a technical tutorial with the topic {topic!r}. Now write in detail, in {self.language}, the section "
            f"of this directory: {self.directory}. Explain with code examples where they help; use markdown, "
            "with the section title as a level-two heading."
        )
        return await self._aask(prompt)
