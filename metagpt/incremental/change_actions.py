"""The steps of a change to an existing project that produce documents and tests.

`WriteChangeRequest` (Product Manager), `EditSections` (the owner of each document),
`WriteChangePlan` (Architect), `DescribeProject` (documents for a project written without
them), `WriteNewFile` (Engineer, a file the plan creates) and `WriteChangeTest` (QA). The
Engineer's edits of existing files are `edit_code.EditCode`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from metagpt.actions.action import Action
from metagpt.actions.document import Document
from metagpt.actions.write_code import ask_code
from metagpt.incremental.change import ChangePlan, ChangeRequest, change_request_model
from metagpt.incremental.sections import section_model
from metagpt.prompts import render_prompt


class WriteChangeRequest(Action):
    """The change request for the user's words, checked against the documents' real sections."""

    output_model = ChangeRequest
    prompt_name = "write_change_request"

    async def run(self, request: str, project: dict[str, str], sections: dict[str, list[str]]) -> ChangeRequest:
        """`project` holds `documents`, `outline`, `tests` and `changes` as text for the prompt."""
        listed = "\n".join(f"- {stem}: {', '.join(titles)}" for stem, titles in sections.items()) or "(none)"
        prompt = self.prompt(request=request, sections=listed, **project)
        model = change_request_model(sections)
        document = await self._aask_model(prompt, model, validation_context={"sections": sections})
        assert isinstance(document, ChangeRequest)
        return document


class EditSections(Action):
    """New values of some sections of one document, asked through a model of just those fields."""

    prompt_name = "edit_sections"

    async def run(self, document: Document, markdown: str, fields: list[str], change: str) -> dict[str, Any]:
        model = section_model(type(document), fields)
        titles = ", ".join(repr(type(document).model_fields[name].title or name) for name in fields)
        prompt = self.prompt(document=markdown.strip(), change=change, titles=titles)
        answer: BaseModel = await self._aask_model(prompt, model)
        return answer.model_dump()


class WriteChangePlan(Action):
    """The files to create, modify, delete or rename, checked against the project's files."""

    output_model = ChangePlan
    prompt_name = "write_change_plan"

    async def run(self, change: str, design: str, files: list[str], outline: str) -> ChangePlan:
        listing = "\n".join(f"- {name}" for name in files) or "(none)"
        plan = await self.ask_document(
            {"existing": files}, change=change, design=design, files=listing, outline=outline
        )
        assert isinstance(plan, ChangePlan)
        return plan


class DescribeProject(Action):
    """One SOP document describing code that exists (a project MetaGPT did not write)."""

    prompt_name = "describe_project"

    async def run(self, model: type[Document], code: str, documents: str) -> Document:
        prompt = self.prompt(code=code, documents=documents or "(none yet)", document=model.heading)
        document = await self._aask_model(prompt, model)
        assert isinstance(document, Document)
        return document


class WriteNewFile(Action):
    """A file the change plan creates, written whole."""

    async def run(self, path: str, context: dict[str, str]) -> str:
        return await ask_code(self, render_prompt("write_new_file", path=path, **context), path)


class WriteChangeTest(Action):
    """QA's tests of a change's acceptance criteria; for a bug fix, a test that fails until it is fixed."""

    async def run(self, test_file: str, change: str, code: str, tests: str, bugfix: bool) -> str:
        purpose = (
            "- The change is a bug fix: the tests must reproduce the bug, so they fail on the current code "
            "and pass once it is fixed."
            if bugfix
            else "- The code already includes the change: the tests must pass on it."
        )
        prompt = render_prompt(
            "write_change_test", test_file=test_file, change=change, code=code, tests=tests, purpose=purpose
        )
        return await ask_code(self, prompt, test_file)
