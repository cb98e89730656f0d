"""Reviewing and revising a filled `ActionNode`: by the model or by the person at the terminal.

`NodeReview` holds MetaGPT's `review`, `revise`, `human_review` and `human_revise`; `ActionNode`
inherits them. A review is `{key: comment}` for the keys whose value misses its instruction
(empty when every key fits); a revision rewrites the keys commented on and updates the answer.
"""

from __future__ import annotations

import asyncio
import json
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from metagpt.exceptions import UserError

if TYPE_CHECKING:
    from metagpt.llm import LLM

REVIEW_TEMPLATE = """## context
Compare the key values of the nodes below with their instructions, and the context.

### nodes: "<key>: <type>  # <instruction>"
{instruction}

### values
{values}

## action
For each key, write one critical comment when its value does not meet its instruction; write
an empty string for a key whose value is fine."""

REVISE_TEMPLATE = """## context
Revise the key values of the nodes below so that each meets its instruction and the comment on it.

### nodes: "<key>: <type>  # <instruction>"
{instruction}

### values
{values}

### comments
{comments}

## action
Answer with the revised value of every key listed above."""


class ReviewMode(str, Enum):
    """Who reviews a filled node: the person at the terminal or the model."""

    HUMAN = "human"
    AUTO = "auto"


class ReviseMode(str, Enum):
    """Who revises: the person (`HUMAN`), the model after a person's review, or the model alone."""

    HUMAN = "human"
    HUMAN_REVIEW = "human_review"
    AUTO = "auto"


class NodeReview:
    """Review and revision of a node's filled answer, mixed into `ActionNode` (which provides the
    answer, its keys' nodes, the model and the prompts' pieces used here)."""

    key: str
    children: dict[str, Any]
    instruct_content: BaseModel | None

    if TYPE_CHECKING:  # provided by ActionNode

        def update_instruct_content(self, incre_data: dict[str, Any]) -> None: ...

        @staticmethod
        def create_model_class(class_name: str, mapping: dict[str, Any]) -> type[BaseModel]: ...

        def _systems(self) -> list[str] | None: ...

        def _require_llm(self) -> LLM: ...

    async def review(self, strgy: str = "simple", review_mode: ReviewMode = ReviewMode.AUTO) -> dict[str, str]:
        """Comments on the filled keys that miss their instruction (`{key: comment}`; empty when all fit).

        `complex` asks the model once per key; `HUMAN` asks the person at the terminal.
        """
        values = self._filled("review")
        if review_mode == ReviewMode.HUMAN:
            return await self.human_review()
        if strgy == "complex":
            comments: dict[str, str] = {}
            for key, value in values.items():
                comments.update(await self._auto_review({key: value}))
            return comments
        return await self._auto_review(values)

    async def human_review(self) -> dict[str, str]:
        """The person at the terminal comments on each key (an empty line means it is fine)."""
        comments = {}
        for key, value in self._filled("review").items():
            line = await _read_line(f"{key}: {json.dumps(value, ensure_ascii=False)}\nyour comment (empty: fine): ")
            if line.strip():
                comments[key] = line.strip()
        return comments

    async def revise(self, strgy: str = "simple", revise_mode: ReviseMode = ReviseMode.AUTO) -> dict[str, Any]:
        """Rewrite the keys a review commented on; returns `{key: new value}` and updates the answer."""
        self._filled("revise")
        if revise_mode == ReviseMode.HUMAN:
            revised = await self.human_revise()
        else:
            review_mode = ReviewMode.HUMAN if revise_mode == ReviseMode.HUMAN_REVIEW else ReviewMode.AUTO
            comments = await self.review(strgy=strgy, review_mode=review_mode)
            if not comments:
                return {}
            if strgy == "complex":
                revised = {}
                for key, comment in comments.items():
                    revised.update(await self._auto_revise({key: comment}))
            else:
                revised = await self._auto_revise(comments)
        self.update_instruct_content(revised)
        return revised

    async def human_revise(self) -> dict[str, Any]:
        """The person types a new value per key (JSON for non-text types); an empty line keeps it."""
        values = self._filled("revise")
        fields = type(cast(BaseModel, self.instruct_content)).model_fields  # `_filled` checked there is one
        labels = {n.key: n.type_label() for n in self._nodes_for(list(values))}
        revised: dict[str, Any] = {}
        for key, value in values.items():
            line = await _read_line(f"{key}: {json.dumps(value, ensure_ascii=False)}\nnew value (empty: keep): ")
            if not line.strip():
                continue
            annotation: Any = fields[key].annotation  # a model field's: never None
            try:
                revised[key] = TypeAdapter(annotation).validate_json(line) if annotation is not str else line.strip()
            except ValidationError as exc:
                raise UserError(
                    f"{key}: {line.strip()!r} is not a valid {labels.get(key, 'value')} ({exc.errors()[0]['msg']})."
                ) from None
        return revised

    def _filled(self, action: str) -> dict[str, Any]:
        if self.instruct_content is None:
            raise RuntimeError(f"use `{action}` after `fill`: node {self.key!r} has no answer yet")
        return self.instruct_content.model_dump()

    def _nodes_for(self, keys: list[str]) -> list[Any]:
        by_key = self.children if self.children else {self.key: self}
        return [by_key[key] for key in keys if key in by_key]

    async def _auto_review(self, values: dict[str, Any]) -> dict[str, str]:
        nodes = self._nodes_for(list(values))
        comments_model = self.create_model_class(f"{self.key}_Review", {n.key: (str, Field(...)) for n in nodes})
        prompt = REVIEW_TEMPLATE.format(
            instruction="\n".join(n.compile_instruction("root") for n in nodes),
            values=json.dumps(values, ensure_ascii=False, indent=2, default=str),
        )
        answer = await self._require_llm().aask_model(prompt, comments_model, system_msgs=self._systems())
        return {key: text.strip() for key, text in answer.model_dump().items() if text.strip()}

    async def _auto_revise(self, comments: dict[str, str]) -> dict[str, Any]:
        values = self._filled("revise")
        nodes = self._nodes_for(list(comments))
        prompt = REVISE_TEMPLATE.format(
            instruction="\n".join(n.compile_instruction("root") for n in nodes),
            values=json.dumps({k: values[k] for k in comments}, ensure_ascii=False, indent=2, default=str),
            comments=json.dumps(comments, ensure_ascii=False, indent=2),
        )
        revised_model = self.create_model_class(f"{self.key}_Revised", {n.key: n._field() for n in nodes})
        answer = await self._require_llm().aask_model(prompt, revised_model, system_msgs=self._systems())
        return answer.model_dump()


async def _read_line(prompt: str) -> str:
    """One line from standard input (a terminal or a pipe); a closed input is a clear error."""
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        raise UserError("Standard input closed while waiting for a review; pipe one line per key.") from None
