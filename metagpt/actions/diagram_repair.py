"""Diagrams a model wrote are checked with mermaid's own parser; an invalid one gets one repair.

The repair sends the parser's error back to the model once. A diagram that still does not parse
is kept as the model wrote it, with the error noted in `%%` comment lines (mermaid's comment
syntax), so the document, its `.mmd` file and the report all say what is wrong. A repair whose
answer cannot be used (`ModelBehaviorError`) is noted as skipped the same way: it is optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from loguru import logger

from metagpt.actions.document import Document, strip_fence
from metagpt.exceptions import ModelBehaviorError
from metagpt.prompts import render_prompt

if TYPE_CHECKING:
    from metagpt.llm import LLM

D = TypeVar("D", bound=Document)

ERROR_NOTE = "%% mermaid cannot parse this diagram:"


def diagram_kind(code: str) -> str:
    """The diagram type a mermaid source declares (`classDiagram`, ...), or `diagram`."""
    for line in code.splitlines():
        line = line.strip()
        if line and not line.startswith("%%"):
            return line.split()[0]
    return "diagram"


def note_error(code: str, error: str) -> str:
    """`code` followed by the parser's error as mermaid comment lines."""
    lines = [line for line in error.splitlines() if line.strip()][:4]
    return "\n".join([code, ERROR_NOTE, *(f"%% {line}" for line in lines)])


async def check_diagrams(document: D, llm: LLM, system_msgs: list[str] | None = None) -> D:
    """`document` with each invalid diagram repaired once by the model, or noted as invalid.

    Runs only while the company's renderer is active (a company run): it is mermaid's parser,
    in the renderer's browser, that decides. Without an engine, diagrams pass unchecked.
    """
    renderer = llm.context.diagrams
    if not renderer.active:
        return document
    updates: dict[str, str] = {}
    for name, stem in document.mermaid_stems().items():
        code = strip_fence(getattr(document, name))
        error = await renderer.validate(code)
        if error is None:
            continue
        logger.warning(f"{llm.role or 'LLM'}: diagram {stem} does not parse; asking the model to fix it once: {error}")
        prompt = render_prompt("fix_mermaid", kind=diagram_kind(code), error=error, code=code)
        try:
            fixed = strip_fence(await llm.aask(prompt, system_msgs))
        except ModelBehaviorError as exc:  # the repair is optional: the run goes on without it
            reason = " ".join(str(exc).split())[:300]
            logger.warning(f"{llm.role or 'LLM'}: repair of diagram {stem} skipped: {reason}")
            updates[name] = note_error(code, f"{error}\nrepair skipped: {reason}")
            continue
        second = await renderer.validate(fixed) if fixed else "the answer was empty"
        if second is None:
            logger.info(f"{llm.role or 'LLM'}: diagram {stem} repaired")
            updates[name] = fixed
        else:
            logger.warning(f"{llm.role or 'LLM'}: diagram {stem} still does not parse; kept with the error noted")
            updates[name] = note_error(code, error)
    return document.model_copy(update=updates) if updates else document
