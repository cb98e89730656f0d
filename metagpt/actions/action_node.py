"""`ActionNode`: MetaGPT's building block for structured answers, on our structured-output path.

A node is one key of an answer (`key`, `expected_type`, `instruction`, `example`); a node with
children is an answer made of their keys, nested as deep as the children go. `fill` compiles
the nodes into a prompt, derives a pydantic model from them and asks `LLM.aask_model` for it,
so the answer is validated (json_schema, then json_object, then the schema in the prompt, with
repair rounds) instead of being cut out of `[CONTENT]` tags as MetaGPT did:

    name = ActionNode("Name", str, "The novel's title", "The Last Lighthouse")
    plot = ActionNode("Plot", list[str], "Three plot points", ["..."])
    novel = ActionNode.from_children("Novel", [name, plot])
    await novel.fill(context="Write a novel about the sea", llm=llm)
    novel.instruct_content.Name            # a pydantic instance with the children's keys

`review()` asks for comments on the filled keys and `revise()` rewrites the ones commented on,
by the model (`AUTO`) or by the person at the terminal (`HUMAN`) (see `node_review`).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, create_model
from pydantic_core import to_jsonable_python

from metagpt.actions.node_review import NodeReview, ReviewMode, ReviseMode
from metagpt.exceptions import UserError

if TYPE_CHECKING:
    from metagpt.llm import LLM

__all__ = ["ActionNode", "ReviewMode", "ReviseMode"]

LANGUAGE_CONSTRAINT = "Language: answer in the same language as the context (English when unsure)."
FORMAT_CONSTRAINT = "Format: the answer is one JSON object with exactly the keys of the nodes."
SIMPLE_TEMPLATE = """## context
{context}

-----

## nodes: "<key>: <type>  # <instruction>"
{instruction}

## constraint
{constraint}

## action
Follow the instructions of the nodes and answer with the value of every node."""

SCHEMAS = ("json", "markdown", "raw")
MODES = ("auto", "children", "root")
STRATEGIES = ("simple", "complex")


def _class_name(name: str) -> str:
    """A class (and JSON schema) name endpoints accept: letters, digits, `_` and `-`."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")
    return cleaned or "ActionNodeOutput"


def _type_name(expected_type: Any) -> str:
    return expected_type.__name__ if isinstance(expected_type, type) else str(expected_type).replace("typing.", "")


class ActionNode(NodeReview):
    """One key of a structured answer, and its children (the keys of a nested answer).

    Args:
        key: the answer's key (any text, e.g. "Required Python packages").
        expected_type: the value's type (`str`, `int`, `list[str]`, a pydantic model, ...).
        instruction: what the model should write for this key.
        example: a value in the expected format, shown to the model.
        content: the filled text (set by `fill`).
        children: child nodes by key.
        schema: the default answer format of `fill` (`json`, `markdown` or `raw`).
    """

    def __init__(
        self,
        key: str,
        expected_type: Any,
        instruction: str,
        example: Any = "",
        content: str = "",
        children: dict[str, ActionNode] | None = None,
        schema: str = "",
    ):
        self.key = key
        self.expected_type = expected_type
        self.instruction = instruction
        self.example = example
        self.content = content
        self.children: dict[str, ActionNode] = dict(children or {})
        self.schema = schema
        self.context = ""
        self.system_prompt = ""
        """Sent before the prompt: the owning action's `prefix` (its role's description)."""
        self.llm: LLM | None = None
        self.instruct_content: BaseModel | None = None

    # -- building ---------------------------------------------------------------------------------

    def add_child(self, node: ActionNode) -> None:
        self.children[node.key] = node

    def get_child(self, key: str) -> ActionNode | None:
        return self.children.get(key)

    def add_children(self, nodes: list[ActionNode]) -> None:
        for node in nodes:
            self.add_child(node)

    @classmethod
    def from_children(cls, key: str, nodes: list[ActionNode]) -> ActionNode:
        """A node whose answer is made of `nodes`' keys."""
        parent = cls(key, str, "", "")
        parent.add_children(nodes)
        return parent

    @classmethod
    def from_pydantic(cls, model: type[BaseModel], key: str | None = None) -> ActionNode:
        """A node whose children are `model`'s fields (nested models become nested nodes).

        A field's first example, else its default, is the child's example.
        """
        root = cls(key or model.__name__, str, "", "")
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                child = cls.from_pydantic(annotation, key=name)
            else:
                default = field.get_default(call_default_factory=True) if not field.is_required() else ""
                example = field.examples[0] if field.examples else to_jsonable_python(default)
                child = cls(name, annotation, field.description or "", example)
            root.add_child(child)
        return root

    @staticmethod
    def create_model_class(class_name: str, mapping: dict[str, Any]) -> type[BaseModel]:
        """A pydantic model with one required field per key of `mapping`.

        Values are a type, or MetaGPT's `(type, ...)` tuple, or `(type, FieldInfo)`.
        """
        fields: dict[str, Any] = {}
        for key, spec in mapping.items():
            fields[key] = spec if isinstance(spec, tuple) else (spec, ...)
        return create_model(_class_name(class_name), **fields)

    # -- the answer's shape -----------------------------------------------------------------------

    def _field(self) -> tuple[Any, Any]:
        """This node as a model field: its type (a nested model when it has children)."""
        if self.children:
            return self._children_class(), Field(..., description=self.instruction or None)
        examples = [self.example] if self.example not in ("", None) else None
        return self.expected_type, Field(..., description=self.instruction or None, examples=examples)

    def _children_class(self, exclude: list[str] | None = None) -> type[BaseModel]:
        return self.create_model_class(f"{self.key}_AN", self.get_children_mapping(exclude))

    def get_children_mapping(self, exclude: list[str] | None = None) -> dict[str, tuple[Any, Any]]:
        """`{key: (type, field)}` of the children, nested children as nested models."""
        return {key: node._field() for key, node in self.children.items() if key not in (exclude or [])}

    def get_self_mapping(self) -> dict[str, tuple[Any, Any]]:
        return {self.key: self._field()}

    def get_mapping(self, mode: str = "auto", exclude: list[str] | None = None) -> dict[str, tuple[Any, Any]]:
        """The keys of the answer: the children's (`children`, or `auto` with children) or this node's."""
        if mode == "children" or (mode == "auto" and self.children):
            return self.get_children_mapping(exclude)
        return {} if exclude and self.key in exclude else self.get_self_mapping()

    def output_class(self, mode: str = "auto", exclude: list[str] | None = None) -> type[BaseModel]:
        """The pydantic model `fill` asks the model for."""
        return self.create_model_class(f"{self.key}_AN", self.get_mapping(mode, exclude))

    def keys(self, mode: str = "auto") -> list[str]:
        return list(self.get_mapping(mode))

    def to_dict(self, mode: str = "all", exclude: list[str] | None = None) -> dict[str, Any]:
        """`{key: instruction}` of this node (`root`), else of its children, nested ones nested."""
        if mode == "root" or not self.children:
            return {self.key: self.instruction}
        return {
            key: node.to_dict("children") if node.children else node.instruction
            for key, node in self.children.items()
            if key not in (exclude or [])
        }

    # -- prompts ----------------------------------------------------------------------------------

    def _nodes(self, mode: str, exclude: list[str] | None = None) -> list[ActionNode]:
        if mode == "children" or (mode == "auto" and self.children):
            return [node for key, node in self.children.items() if key not in (exclude or [])]
        return [self]

    def compile_instruction(self, mode: str = "auto", exclude: list[str] | None = None, indent: str = "") -> str:
        """One line per key: `- key: type  # instruction`, children indented under their parent."""
        lines = []
        for node in self._nodes(mode, exclude):
            lines.append(f"{indent}- {node.key}: {node.type_label()}  # {node.instruction}".rstrip(" #"))
            if node.children:
                lines.append(node.compile_instruction("children", indent=indent + "  "))
        return "\n".join(lines)

    def compile_example(self, schema: str = "json", mode: str = "auto", exclude: list[str] | None = None) -> str:
        """The nodes' examples as the answer would show them (JSON, or markdown sections)."""
        example = {node.key: node._example() for node in self._nodes(mode, exclude)}
        if schema == "markdown":
            return "\n\n".join(f"## {key}\n{_markdown(value)}" for key, value in example.items())
        return json.dumps(example, ensure_ascii=False, indent=2, default=str)

    def type_label(self) -> str:
        """The value's type as the prompt names it (`object` for a node with children)."""
        return "object" if self.children else _type_name(self.expected_type)

    def _example(self) -> Any:
        if self.children:
            return {key: node._example() for key, node in self.children.items()}
        return self.example

    def compile(
        self,
        context: str,
        schema: str = "json",
        mode: str = "auto",
        template: str = SIMPLE_TEMPLATE,
        exclude: list[str] | None = None,
    ) -> str:
        """The prompt `fill` sends: context, the nodes' instructions and the constraints.

        With `raw`, only the context and this node's instruction; otherwise the format itself
        (keys, types, examples) is added by `LLM.aask_model` from the derived model.
        """
        if schema == "raw":
            return f"{context}\n\n## Actions\n{LANGUAGE_CONSTRAINT}\n{self.instruction}"
        constraint = f"{LANGUAGE_CONSTRAINT}\n{FORMAT_CONSTRAINT}"
        return template.format(
            context=context, instruction=self.compile_instruction(mode, exclude), constraint=constraint
        )

    # -- filling ----------------------------------------------------------------------------------

    def set_llm(self, llm: LLM) -> None:
        """Use `llm` for this node and its children."""
        self.llm = llm
        for node in self.children.values():
            node.set_llm(llm)

    def set_system_prompt(self, system_prompt: str) -> None:
        self.system_prompt = system_prompt
        for node in self.children.values():
            node.set_system_prompt(system_prompt)

    def _systems(self) -> list[str] | None:
        return [self.system_prompt] if self.system_prompt else None

    def set_context(self, context: str) -> None:
        self.context = context
        for node in self.children.values():
            node.set_context(context)

    def _require_llm(self) -> LLM:
        if self.llm is None:
            from metagpt.llm import LLM

            self.set_llm(LLM())
        assert self.llm is not None
        return self.llm

    async def fill(
        self,
        context: str | None = None,
        llm: LLM | None = None,
        schema: str = "json",
        mode: str = "auto",
        strgy: str = "simple",
        images: list[str] | None = None,
        timeout: float | None = None,
        exclude: list[str] | None = None,
        *,
        req: str | None = None,
    ) -> ActionNode:
        """Ask the model for this node's answer; sets `instruct_content` and `content`, returns self.

        Args:
            context: what the answer is about (`req` is its MetaGPT 0.8 name).
            llm: the model; the one set with `set_llm`, or a default `LLM()`.
            schema: `json` or `markdown` (a validated answer; `content` is its JSON or its
                markdown sections) or `raw` (plain text in `content`, no `instruct_content`).
                The node's own `schema`, when set, wins over the default `json`.
            mode: `children` (the children's keys), `root` (this node's key), or `auto`
                (children when there are any).
            strgy: `simple` (one request) or `complex` (one request per child, then merged).
            exclude: keys left out of the answer.
            images, timeout: accepted for MetaGPT compatibility; `TIMEOUT` governs calls.
        """
        if schema not in SCHEMAS or mode not in MODES or strgy not in STRATEGIES:
            raise UserError(
                f"ActionNode.fill: schema must be one of {SCHEMAS}, mode one of {MODES}, strgy one of {STRATEGIES}."
            )
        if llm is not None:
            self.set_llm(llm)
        self._require_llm()
        self.set_context(req if req is not None else (context or ""))
        schema = self.schema or schema
        if strgy == "simple":
            return await self.simple_fill(schema=schema, mode=mode, exclude=exclude)
        merged: dict[str, Any] = {}
        for key, child in self.children.items():
            if key in (exclude or []):
                continue
            await child.simple_fill(schema=schema, mode="root")
            if child.instruct_content is not None:
                merged.update(child.instruct_content.model_dump())
            else:
                merged[key] = child.content
        self._set_answer(self.output_class("children", exclude).model_validate(merged), schema)
        return self

    async def simple_fill(
        self, schema: str = "json", mode: str = "auto", exclude: list[str] | None = None
    ) -> ActionNode:
        """One request for the whole answer (see `fill`)."""
        llm = self._require_llm()
        prompt = self.compile(self.context, schema=schema, mode=mode, exclude=exclude)
        if schema == "raw":
            self.content = await llm.aask(prompt, self._systems())
            self.instruct_content = None
            return self
        answer = await llm.aask_model(prompt, self.output_class(mode, exclude), system_msgs=self._systems())
        self._set_answer(answer, schema)
        return self

    def _set_answer(self, answer: BaseModel, schema: str) -> None:
        self.instruct_content = answer
        if schema == "markdown":
            self.content = "\n\n".join(f"## {k}\n{_markdown(v)}" for k, v in answer.model_dump().items())
        else:
            self.content = answer.model_dump_json(indent=2)

    def get(self, key: str) -> Any:
        """A filled value by key."""
        if self.instruct_content is None:
            raise UserError(f"ActionNode {self.key!r} is not filled yet: call `await node.fill(...)` first.")
        return self.instruct_content.model_dump()[key]

    def update_instruct_content(self, incre_data: dict[str, Any]) -> None:
        """Replace some filled values, validating the result against the node's model."""
        if self.instruct_content is None:
            raise UserError(f"ActionNode {self.key!r} is not filled yet: call `await node.fill(...)` first.")
        data = {**self.instruct_content.model_dump(), **incre_data}
        self.instruct_content = type(self.instruct_content).model_validate(data)
        self.content = self.instruct_content.model_dump_json(indent=2)

    def __str__(self) -> str:
        kind = _type_name(self.expected_type)
        return f"{self.key}, {kind}, {self.instruction}, {self.example}, {self.content}, {self.children}"

    def __repr__(self) -> str:
        return f"ActionNode({self.key!r}, children={list(self.children)})"


def _markdown(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(f"- {item}" for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, indent=2)
    return str(value)
