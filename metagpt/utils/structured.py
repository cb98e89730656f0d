"""Structured outputs: one pydantic model gives the JSON schema, the parser and the prompt hints.

The request-side schema a provider is handed is `metagpt.provider.base.OutputSchema.of(model)`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)

_DROPPED_KEYS = ("default", "examples", "x-mermaid", "x-sentences")
_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)\n\s*```", re.DOTALL)


def strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a pydantic JSON schema in the form OpenAI's strict mode accepts.

    Every object gets `additionalProperties: false` and lists all its properties as required;
    keys strict mode rejects (defaults, examples, our own hints) are dropped.
    """
    schema = copy.deepcopy(schema)

    def fix(node: dict[str, Any]) -> None:
        for key in _DROPPED_KEYS:
            node.pop(key, None)
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])

    _walk(schema, fix)
    return schema


def bounded_schema(schema: dict[str, Any], max_length: int, max_items: int) -> dict[str, Any]:
    """A copy of `schema` where every string and array is bounded.

    Small local models under constrained decoding can otherwise write one string until
    `max_tokens`; bounds make the grammar close every value in time.
    """
    schema = copy.deepcopy(schema)

    def bound(node: dict[str, Any]) -> None:
        if node.get("type") == "string" and "enum" not in node:
            node["maxLength"] = min(node.get("maxLength", max_length), max_length)
        if node.get("type") == "array":
            node["maxItems"] = min(node.get("maxItems", max_items), max_items)
            node.setdefault("minItems", 1)

    _walk(schema, bound)
    return schema


def _walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    """Call `visit` on every JSON object inside a schema, depth first, parents first."""
    if isinstance(node, dict):
        visit(node)
        for key, value in node.items():
            if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
                for child in value.values():  # a name -> schema map, not a schema itself
                    _walk(child, visit)
            else:
                _walk(value, visit)
    elif isinstance(node, list):
        for item in node:
            _walk(item, visit)


def extract_json(text: str) -> Any:
    """The JSON value in a model answer, tolerating code fences and prose around it."""
    text = text.strip()
    candidates = [text]
    candidates += [match.group(1) for match in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            error = error or exc
    raise ValueError(f"the answer is not valid JSON ({error})")


SALVAGE = "salvage"
"""Set (True) in the validation context of the last format attempt: a validator may then cut an
item it would refuse (and say so in a warning) instead of failing the document; it still raises
when too little is left."""


def parse_output(text: str, model: type[T], context: dict[str, Any] | None = None) -> T:
    """Validate a model answer against `model`, whose validators get `context`.

    Raises `ValueError` (not JSON) or `ValidationError`.
    """
    return model.model_validate(extract_json(text), context=context)


EXAMPLE_HEADER = "Example of the format (write your own content):"


def compact_examples(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """`messages` with each format example (see `format_instructions`) as compact JSON.

    For endpoints whose grammar admits one optional space between tokens (llama.cpp's server
    built from a schema): a model copying an indented example wants a newline before a key,
    which such a grammar refuses, and is pushed into writing punctuation inside strings.
    """
    return [_with_compact_example(message) for message in messages]


def _with_compact_example(message: dict[str, str]) -> dict[str, str]:
    content = message.get("content")
    marker = f"{EXAMPLE_HEADER}\n"
    if not isinstance(content, str) or marker not in content:
        return message
    start = content.index(marker) + len(marker)
    try:
        example, end = json.JSONDecoder().raw_decode(content, start)
    except ValueError:  # not the JSON `format_instructions` writes: left as it is
        return message
    return {**message, "content": content[:start] + json.dumps(example, ensure_ascii=False) + content[end:]}


def format_instructions(model: type[BaseModel]) -> str:
    """Prompt text describing the JSON object to return, field by field, with an example."""
    lines = ["Return only one JSON object, with exactly these keys:"]
    example: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        title = field.title or name
        lines.append(f'- "{name}" ({title}): {field.description or ""}'.rstrip())
        if field.examples:
            example[name] = field.examples[0]
    if example:
        lines.append(EXAMPLE_HEADER)
        lines.append(json.dumps(example, ensure_ascii=False, indent=2))
    return "\n".join(lines)
