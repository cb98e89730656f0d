"""JSON-schema constrained decoding for llama.cpp, sized so small models always close their JSON.

A 135M model under a plain JSON grammar can write one string until `max_tokens`; bounding every
string and list (from the token budget) makes the grammar close each value in time.

Fields holding mermaid code (`x-mermaid` in the schema) get a grammar of their diagram type
(`grammars/<type>.gbnf`, the type read from the field's example), so even a small model writes
diagrams mermaid can parse. Lists of sentences (`x-sentences`, e.g. a PRD's goals) admit no JSON
punctuation inside their items, which their validation would refuse anyway.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from importlib import resources
from typing import Any

from metagpt.exceptions import ResponseFormatUnsupported
from metagpt.provider.llama_runtime import import_llama_cpp
from metagpt.utils.structured import bounded_schema, strict_json_schema

MAX_STRING_CHARS = 300
MIN_STRING_CHARS = 40
MAX_LIST_ITEMS = 5
CHARS_PER_TOKEN = 3.0
"""A cautious chars-per-token figure for English prose, used to size string bounds."""
KEY_TOKENS = 6
"""Tokens a JSON key costs with its quotes, colon and separators."""
# llama-cpp-python's JSON-schema converter lets raw control characters (newlines) into strings,
# which `json.loads` then rejects; llama.cpp's own converter excludes them, as JSON requires.
_LOOSE_CHAR_RULE = 'char ::= [^"\\\\] |'
_STRICT_CHAR_RULE = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'
# Its whitespace rule is one optional space, while every prompt shows pretty-printed examples
# (`json.dumps(..., indent=2)`): a model copying that layout wants a newline and indentation
# before a key, which the grammar then forbids, and it is pushed into writing punctuation inside
# strings. This rule (llama.cpp's own) admits both the compact and the indented layout.
_LOOSE_SPACE_RULE = 'space ::= " "?'
_LITERALS_RULE = re.compile(r'^([\w-]+) ::= ("(?:[^"\\]|\\.)*"(?: \| "(?:[^"\\]|\\.)*")*)$', re.MULTILINE)
"""An enum or const rule (literals only): the converter gives it no trailing whitespace, so an
indented `"priority": "P0"\n}` would be refused; it gets the `space` every other value has."""
_LAYOUT_SPACE_RULE = 'space ::= | " " | "\\n"{1,2} [ \\t]{0,20}'
_SENTENCE_CHAR_RULE = r'sentence-char ::= [^"\\\x7F\x00-\x1F\[\]{}]'
"""A character of a sentence: what a JSON string allows, less escapes and the marks of JSON
(a model at the end of a bounded string otherwise fills it with `[x`, and the item is refused)."""
DIAGRAM_TOKENS = {"quadrantChart": 200, "classDiagram": 300, "sequenceDiagram": 250}
"""Tokens kept for each diagram grammar's longest output, taken from the strings' budget."""
MIN_STRING_BUDGET = 200
"""Diagram grammars are used only when at least this many tokens are left for the other fields."""


def structured_schema(schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    """The strict form of `schema` with strings and lists bounded to fit in `max_tokens`.

    Lists get at most `MAX_LIST_ITEMS` items and at least one, except a top-level list whose
    example is empty (e.g. third-party packages: none is a good answer); a string in a list is
    never empty (an empty file name or goal is never meant); strings share what is left of the
    token budget after the keys, between `MIN_STRING_CHARS` and `MAX_STRING_CHARS` each.
    """
    may_be_empty = [
        name for name, node in schema.get("properties", {}).items() if (node.get("examples") or [None])[0] == []
    ]
    strict = strict_json_schema(schema)
    strings, keys = _slots(strict, strict.get("$defs", {}), depth=0)
    per_string = (max_tokens - keys * KEY_TOKENS) * CHARS_PER_TOKEN / max(strings, 1)
    max_length = int(min(MAX_STRING_CHARS, max(MIN_STRING_CHARS, per_string)))
    bounded = bounded_schema(strict, max_length=max_length, max_items=MAX_LIST_ITEMS)
    for node in _list_items(bounded):
        if node.get("type") == "string" and "enum" not in node:
            node.setdefault("minLength", 1)
    for name in may_be_empty:
        bounded["properties"][name]["minItems"] = 0
    return bounded


def _list_items(node: Any) -> list[dict[str, Any]]:
    """The `items` schemas of every array in a schema."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            found.append(node["items"])
        for value in node.values():
            found += _list_items(value)
    elif isinstance(node, list):
        for value in node:
            found += _list_items(value)
    return found


def _slots(node: Any, defs: dict[str, Any], depth: int) -> tuple[float, float]:
    """Worst-case (string values, keys) one JSON value of schema `node` can hold."""
    if not isinstance(node, dict) or depth > 8:
        return 0, 0
    if ref := node.get("$ref"):
        return _slots(defs.get(ref.rsplit("/", 1)[-1]), defs, depth + 1)
    if options := node.get("anyOf") or node.get("oneOf"):
        counts = [_slots(option, defs, depth + 1) for option in options]
        return max(c[0] for c in counts), max(c[1] for c in counts)
    kind = node.get("type")
    if kind == "string":
        return (0, 0) if "enum" in node else (1, 0)
    if kind == "array":
        strings, keys = _slots(node.get("items"), defs, depth + 1)
        items = min(node.get("maxItems", MAX_LIST_ITEMS), MAX_LIST_ITEMS)
        return strings * items, keys * items
    strings = keys = 0.0
    for child in node.get("properties", {}).values():
        child_strings, child_keys = _slots(child, defs, depth + 1)
        strings, keys = strings + child_strings, keys + child_keys + 1
    return strings, keys


def diagram_fields(schema: dict[str, Any]) -> dict[str, str]:
    """Field name -> mermaid diagram type, for the top-level fields with a grammar of their type."""
    fields = {}
    for name, node in schema.get("properties", {}).items():
        examples = node.get("examples") or [""]
        kind = str(examples[0]).split(maxsplit=1)[0] if str(examples[0]).strip() else ""
        if node.get("x-mermaid") and kind in DIAGRAM_TOKENS:
            fields[name] = kind
    return fields


def _placeholder(kind: str) -> str:
    return f"@@{kind}@@"


def with_diagram_grammars(schema: dict[str, Any], max_tokens: int) -> tuple[dict[str, Any], dict[str, str], int]:
    """`schema` with its diagram fields swapped for placeholders, those fields, and the tokens left."""
    fields = diagram_fields(schema)
    reserved = sum(DIAGRAM_TOKENS[kind] for kind in fields.values())
    if not fields or max_tokens - reserved < MIN_STRING_BUDGET:
        return schema, {}, max_tokens
    schema = copy.deepcopy(schema)
    for name, kind in fields.items():
        schema["properties"][name] = {"const": _placeholder(kind)}
    return schema, fields, max_tokens - reserved


@functools.cache
def diagram_grammar(kind: str) -> str:
    """The GBNF rules of one mermaid diagram type; its root rule is named after the type."""
    return resources.files("metagpt.provider.grammars").joinpath(f"{kind}.gbnf").read_text(encoding="utf-8")


def sentence_fields(schema: dict[str, Any]) -> tuple[str, ...]:
    """The top-level list fields whose items are sentences (`x-sentences`)."""
    return tuple(name for name, node in schema.get("properties", {}).items() if node.get("x-sentences"))


def _rule_name(field: str) -> str:
    """The converter's rule name for a top-level field (`product_goals` -> `product-goals`)."""
    return re.sub(r"[^a-zA-Z0-9-]+", "-", field)


@functools.lru_cache(maxsize=64)
def _grammar_text(schema_json: str, kinds: tuple[str, ...] = (), sentences: tuple[str, ...] = ()) -> str:
    import_llama_cpp()
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    text = json_schema_to_gbnf(schema_json).replace(_LOOSE_CHAR_RULE, _STRICT_CHAR_RULE)
    if _LOOSE_SPACE_RULE not in text:
        raise ValueError("llama-cpp-python's whitespace rule changed; cannot widen it to indented JSON")
    text = _LITERALS_RULE.sub(r"\1 ::= (\2) space", text.replace(_LOOSE_SPACE_RULE, _LAYOUT_SPACE_RULE))
    for kind in kinds:
        placeholder = json.dumps(json.dumps(_placeholder(kind)))  # the const as a GBNF literal
        if f"({placeholder}) space" not in text:
            raise ValueError(f"no placeholder for the {kind} field in the generated grammar")
        text = text.replace(f"({placeholder}) space", f'"\\"" {kind} "\\"" space') + "\n" + diagram_grammar(kind)
    for field in sentences:
        rule = re.compile(rf"^({_rule_name(field)}-item ::= )(.*)$", re.MULTILINE)
        if not rule.search(text):
            raise ValueError(f"no item rule for the sentences of {field!r} in the generated grammar")
        text = rule.sub(lambda match: match.group(1) + re.sub(r"\bchar\b", "sentence-char", match.group(2)), text)
    if sentences:
        text += "\n" + _SENTENCE_CHAR_RULE
    return text


def json_grammar_text(schema: dict[str, Any], max_tokens: int) -> str:
    """The GBNF text that only admits JSON following `schema`, sized for `max_tokens`."""
    schema, diagrams, string_tokens = with_diagram_grammars(schema, max_tokens)
    bounded = structured_schema(schema, string_tokens)
    try:
        kinds = tuple(sorted(set(diagrams.values())))
        return _grammar_text(json.dumps(bounded), kinds, sentence_fields(schema))
    except (AssertionError, KeyError, ValueError, TypeError) as exc:
        raise ResponseFormatUnsupported(f"llama.cpp cannot turn this JSON schema into a grammar: {exc!r}") from exc


def json_grammar(schema: dict[str, Any], max_tokens: int) -> Any:
    """A `LlamaGrammar` that only admits JSON following `schema`, sized for `max_tokens`.

    We build the grammar rather than pass `response_format={"type": "json_object", "schema": ...}`:
    llama-cpp-python silently falls back to unconstrained JSON when the schema cannot be converted,
    and its string rule admits raw newlines, which is not JSON.
    """
    import_llama_cpp()
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(json_grammar_text(schema, max_tokens), verbose=False)
