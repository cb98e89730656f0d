"""A model that needs no network, for tests and dry runs (`API_TYPE: fake`).

Scripted mode answers with the given texts in order. Schema-driven mode (no script) answers
structured requests with a valid instance built from the schema's examples and types, and
plain requests with a small Python code block.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from metagpt.provider.base import ModelRequest, ModelResponse, Provider, Usage
from metagpt.utils.token_counter import count_text_tokens

Responder = str | Callable[[ModelRequest], str]

FAKE_CODE = """```python
\"\"\"Written by the fake model.\"\"\"


def main() -> None:
    print("hello")


if __name__ == "__main__":
    main()
```"""


class FakeProvider(Provider):
    """Answers without a model; records every request in `calls`."""

    priced = False

    api_type = "fake"

    @classmethod
    def from_config(cls, config: Any) -> FakeProvider:
        return cls()

    def __init__(self, responses: list[Responder] | None = None, model: str = "fake"):
        self.model = model
        self.scripted = responses is not None
        self.responses = list(responses or [])
        self.calls: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls.append(request)
        text = self._answer(request)
        usage = Usage(prompt_tokens=self.count_tokens(request.messages), completion_tokens=count_text_tokens(text))
        return ModelResponse(text=text, usage=usage, model=self.model, finish_reason="stop")

    def assert_complete(self) -> None:
        """Fail when scripted answers were left unused."""
        if self.responses:
            raise AssertionError(f"{len(self.responses)} scripted responses were never requested")

    def _answer(self, request: ModelRequest) -> str:
        if self.scripted:
            if not self.responses:
                raise AssertionError(f"no scripted response left for request {len(self.calls)}")
            responder = self.responses.pop(0)
            return responder(request) if callable(responder) else responder
        if request.output_schema:
            schema = request.output_schema.json_schema
            return json.dumps(sample_from_schema(schema, schema.get("$defs", {})), ensure_ascii=False)
        return FAKE_CODE


def sample_from_schema(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A value valid for `schema`, preferring its first example."""
    if "$ref" in schema:
        return sample_from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return sample_from_schema(schema[key][0], defs)
    kind = schema.get("type", "string")
    if kind == "object":
        return {name: sample_from_schema(sub, defs) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        items = schema.get("prefixItems") or [schema.get("items", {})] * max(1, schema.get("minItems", 1))
        return [sample_from_schema(item, defs) for item in items]
    return {"integer": 0, "number": 0.0, "boolean": False, "null": None}.get(kind, "")
