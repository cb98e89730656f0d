"""Engineer's review of one file: LGTM, or findings and a rewritten file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from metagpt.actions.action import Action
from metagpt.actions.write_code import ask_code, code_context
from metagpt.journal.scope import call_scope
from metagpt.prompts import render_prompt


class ReviewVerdict(BaseModel):
    """A reviewer's judgement of one file."""

    findings: list[str] = Field(
        description="Concrete problems: bugs, missing requirements, wrong use of another file's interface. "
        "Empty when there are none.",
        max_length=6,
        examples=[[]],
    )
    verdict: Literal["LGTM", "LBTM"] = Field(
        description="LGTM when the code is correct and complete; LBTM when it must be rewritten.",
        examples=["LGTM"],
    )


class WriteCodeReview(Action):
    """Review a file against the requirements and the interfaces of the files it uses; rewrite if needed."""

    async def run(
        self, filename: str, code: str, context: str, dependencies: dict[str, str]
    ) -> tuple[ReviewVerdict, str]:
        """Returns the verdict and the code to keep (rewritten when the verdict is LBTM)."""
        values = {"filename": filename, "code": code, "context": context, "dependencies": code_context(dependencies)}
        with call_scope(target=filename):
            verdict = await self._aask_model(render_prompt("review_code", **values), ReviewVerdict)
        if verdict.verdict == "LGTM" or not verdict.findings:
            return verdict.model_copy(update={"verdict": "LGTM"}), code
        findings = "\n".join(f"- {finding}" for finding in verdict.findings)
        prompt = render_prompt("rewrite_code", **values, findings=findings)
        rewritten = await ask_code(self, prompt, filename, fallback=lambda: code)  # never trade parsing code for broken
        return verdict, rewritten
