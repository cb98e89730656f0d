"""A scripted model for a two-file calculator company: documents, `calc.py` (one version per
request, fixes included), `main.py` and the test file. Shared by the QA loop's and the
experience pool's company tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from metagpt.provider.base import ModelRequest
from metagpt.provider.fake import sample_from_schema

BUGGY = "```python\ndef add(a: int, b: int) -> int:\n    return a - b\n```"
FIXED = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"
HANGS = "```python\ndef add(a: int, b: int) -> int:\n    while True:\n        pass\n```"
MAIN = "```python\nfrom calc import add\n\nif __name__ == '__main__':\n    print(add(1, 2))\n```"
TEST = "```python\nfrom calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n```"
BROKEN_TEST = "```python\nfrom calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 6\n```"


def scripted(
    code_versions: list[str], logic: str = "add()", test: str = TEST, test_prompt: str = "write `tests/test_calc.py`"
) -> Callable[[ModelRequest], str]:
    """Answers in turn: `code_versions` for each request of `calc.py`'s code, `test` for every
    prompt holding `test_prompt` (only the writing of the test file, by default)."""
    versions = list(code_versions)

    def answer(request: ModelRequest) -> str:
        prompt = request.messages[-1]["content"]
        if request.output_schema is not None:
            schema = request.output_schema.json_schema
            document: dict[str, Any] = sample_from_schema(schema, schema.get("$defs", {}))
            if request.output_schema.name == "SystemDesign":
                document.update(python_package_name="calc_app", file_list=["main.py", "calc.py"])
            if request.output_schema.name == "Tasks":
                document.update(
                    task_list=["calc.py", "main.py"],
                    logic_analysis=[{"file": "calc.py", "description": logic}],
                    required_python_third_party_packages=[],
                )
            return json.dumps(document)
        if "write the complete code of `main.py`" in prompt:
            return MAIN
        if "write the complete code of `calc.py`" in prompt or "`calc.py` is the file to fix" in prompt:
            return versions.pop(0)
        if test_prompt in prompt:
            return test
        raise AssertionError(f"unexpected prompt: {prompt[:200]}")

    return answer
