"""The agent's answer: its reasoning and a list of commands, one pydantic model built from the tools.

Every command the agent may give is a `Command`: a name such as `Editor.write` and the callable
behind it, whose arguments become a pydantic model (from the signature and the Google-style
docstring). `answer_model` joins them into `AgentAnswer`: `thought` plus `commands`, each
command one of the known shapes, told apart by `command_name`. The same model gives the JSON
schema the endpoint (and the embedded model's grammar) is sent, the prompt's tool list, and
the parser, whose errors name the command and the argument that was wrong.
"""

from __future__ import annotations

import copy
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from metagpt.tools.registry import parse_docstring
from metagpt.utils.structured import extract_json

MAX_COMMANDS = 5
"""Most commands one answer may hold."""
THOUGHT = "Your reasoning: what you know, what is left, why these commands."


class ToolFailure(Exception):
    """A command could not do what it was asked; the message becomes the observation."""


@dataclass(frozen=True)
class Command:
    """One command the agent may give: `name`, what it does, and the callable with its argument model."""

    name: str
    func: Callable[..., Any]
    description: str
    args_model: type[BaseModel]

    def prompt(self) -> str:
        """The command as the prompt lists it: name, arguments with types, what it does."""
        fields = self.args_model.model_fields
        args = ", ".join(f"{n}: {_type_name(f.annotation)}" + ("" if f.is_required() else f" = {f.default!r}")
                         for n, f in fields.items())  # fmt: skip
        lines = [f"- {self.name}({args}): {self.description}"]
        lines += [f"    {n}: {f.description}" for n, f in fields.items() if f.description]
        return "\n".join(lines)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def make_command(name: str, func: Callable[..., Any]) -> Command:
    """A `Command` from a function or bound method with a docstring.

    Raises:
        ValueError: no docstring, or a parameter without a type hint.
    """
    doc = inspect.getdoc(func) or ""
    if not doc.strip():
        raise ValueError(f"command {name} needs a docstring saying what it does")
    summary, params = parse_docstring(doc)
    hints = typing.get_type_hints(func)
    fields: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name not in hints:
            raise ValueError(f"command {name}: parameter {param.name} needs a type hint")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], Field(default, description=params.get(param.name, "")))
    model_name = name.replace(".", "_") + "_args"
    args_model = create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)
    return Command(name, func, summary, args_model)


class CommandCall(BaseModel):
    """One parsed command: its name and validated arguments."""

    command_name: str
    args: dict[str, Any] = Field(default_factory=dict)

    def signature(self) -> str:
        """The command as one comparable line: its name and its arguments in key order."""
        import json

        return f"{self.command_name} {json.dumps(self.args, sort_keys=True, ensure_ascii=False, default=str)}"


class AgentAnswer(BaseModel):
    """What one step of the agent answered."""

    thought: str = ""
    commands: list[CommandCall] = Field(default_factory=list)


def answer_model(commands: list[Command]) -> type[BaseModel]:
    """The pydantic model of an answer: `thought` and 1 to `MAX_COMMANDS` commands of the known shapes."""
    shapes = []
    for command in commands:
        shape = create_model(
            command.name.replace(".", "_"),
            __config__=ConfigDict(extra="forbid"),
            command_name=(Literal[command.name], Field(description="The command.")),  # type: ignore[arg-type]  # a run-time Literal
            args=(command.args_model, Field(description="Its arguments.")),
        )
        shapes.append(shape)
    union = Union[tuple(shapes)] if len(shapes) > 1 else shapes[0]  # noqa: UP007  (built at run time)
    return create_model(
        "AgentAnswer",
        thought=(str, Field(description=THOUGHT, examples=["The file does not exist yet, so I write it."])),
        commands=(
            # the union of models built above, at run time
            list[Annotated[union, Field(discriminator="command_name")]] if len(shapes) > 1 else list[union],  # type: ignore[valid-type,maybe-unrecognized-str-typeform]
            Field(min_length=1, max_length=MAX_COMMANDS, description="The commands to run, in order."),
        ),
    )


def request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema as endpoints and grammars take it.

    The union becomes a plain `anyOf` without pydantic's discriminator, and each `const` a
    one-value `enum`, the forms strict structured outputs and llama.cpp's grammar converter take.
    """
    schema = copy.deepcopy(model.model_json_schema())

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            if "oneOf" in node:
                node["anyOf"] = node.pop("oneOf")
            node.pop("discriminator", None)
            if "const" in node:
                node["enum"] = [node.pop("const")]
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(schema)
    return schema


def parse_answer(text: str, model: type[BaseModel]) -> AgentAnswer:
    """The answer in `text`, validated against `model`.

    Raises:
        ValueError: not JSON, or not a valid answer; the message says what was wrong, for the model.
    """
    data = extract_json(text)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:5]:
            where = ".".join(str(p) for p in error["loc"]) or "the answer"
            problems.append(f"{where}: {error['msg']}")
        raise ValueError("; ".join(problems)) from None
    calls = [
        CommandCall(command_name=c.command_name, args=c.args.model_dump(mode="json"))
        for c in parsed.commands  # type: ignore[attr-defined]
    ]
    return AgentAnswer(thought=parsed.thought, commands=calls)  # type: ignore[attr-defined]
