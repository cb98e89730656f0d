"""The shape of a Gemini request, apart from the SDK that sends it: contents and response schema.

An OpenAI-style chat (`role`/`content` dicts, system messages included) becomes Gemini's
`systemInstruction` and alternating `user`/`model` contents; a pydantic JSON schema becomes the
subset of JSON Schema Gemini's `responseJsonSchema` reads.
"""

from __future__ import annotations

from typing import Any

SCHEMA_KEYWORDS = frozenset(
    {"type", "format", "title", "description", "nullable", "enum", "items", "prefixItems", "minItems", "maxItems"}
    | {"minimum", "maximum", "anyOf", "properties", "required", "propertyOrdering"}
)
"""The JSON Schema keywords Gemini's response schema reads; the others are dropped."""


def contents(messages: list[dict[str, str]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The system texts and the Gemini `contents` of an OpenAI-style chat.

    `assistant` turns are the `model`'s; consecutive turns of one role become one content of
    several parts. A chat of system messages only is sent as the user's turn.
    """
    system = [m["content"] for m in messages if m["role"] == "system" and m["content"]]
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message["role"] == "system" or not message["content"]:
            continue
        role = "model" if message["role"] == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["parts"].append({"text": message["content"]})
        else:
            turns.append({"role": role, "parts": [{"text": message["content"]}]})
    if not turns:
        return [], [{"role": "user", "parts": [{"text": text} for text in system] or [{"text": " "}]}]
    return system, turns


def gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema in the dialect Gemini reads: references inlined, other keywords dropped.

    `$ref` is replaced by its definition (a recursive one by an empty schema), `oneOf` becomes
    `anyOf`, `const` a one-value `enum`, a single `allOf` its one schema; keywords outside
    `SCHEMA_KEYWORDS` (`$defs`, `additionalProperties`, `default`, `examples`, ...) are dropped.
    """
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}

    def convert(node: Any, seen: tuple[str, ...]) -> Any:
        if not isinstance(node, dict):
            return node
        node = dict(node)
        if "$ref" in node:
            name = str(node.pop("$ref")).rsplit("/", 1)[-1]
            if name in seen or name not in defs:
                return {}
            return convert({**defs[name], **node}, (*seen, name))
        if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            return convert({**node.pop("allOf")[0], **node}, seen)
        if "oneOf" in node:
            node["anyOf"] = node.pop("oneOf")
        if "const" in node:
            node["enum"] = [node.pop("const")]
        converted: dict[str, Any] = {}
        for key, value in node.items():
            if key not in SCHEMA_KEYWORDS:
                continue
            if key == "properties" and isinstance(value, dict):
                converted[key] = {name: convert(sub, seen) for name, sub in value.items()}
            elif key == "items":
                converted[key] = convert(value, seen)
            elif key in ("anyOf", "prefixItems") and isinstance(value, list):
                converted[key] = [convert(sub, seen) for sub in value]
            else:
                converted[key] = value
        return converted

    return convert(schema, ())
