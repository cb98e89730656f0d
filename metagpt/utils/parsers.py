"""`CodeParser` and `OutputParser`: pull sections, code and lists out of a model's markdown answer.

MetaGPT's scripts import both from `metagpt.utils.common`. A "block" is a `## Title` section:
`parse_blocks` maps each title to its text, `parse_block(title, text)` is the first section whose
title contains `title`.
"""

from __future__ import annotations

import ast
import re
from typing import Any

__all__ = ["CodeParser", "OutputParser"]

_FENCE_PYTHON = re.compile(r"```python[^\n]*\n", re.IGNORECASE)


def _fenced(text: str, lang: str) -> str | None:
    """The body of the first fenced block in `lang` (any language when empty), None without one."""
    match = re.search(rf"```{re.escape(lang)}[^\n]*\n(.*?)```", text, re.DOTALL)
    if match is None:  # a one-line fence: ```python print(1)```
        match = re.search(rf"```{re.escape(lang)}\s+(.*?)```", text, re.DOTALL)
    return match.group(1) if match else None


def _list_literal(text: str) -> list[Any] | None:
    """The Python list literal in `text` (`files = [...]` or a bare `[...]`), None without one."""
    match = re.search(r"\s*(.*=.*)?(\[.*\])", text, re.DOTALL)
    if match is None:
        return None
    try:
        value = ast.literal_eval(match.group(2))
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, list) else None


def split_blocks(text: str) -> dict[str, str]:
    """`## Title` sections of `text` as {title: stripped body}, in order."""
    blocks: dict[str, str] = {}
    for part in text.split("##"):
        if not part.strip():
            continue
        title, _, body = part.partition("\n")
        blocks[title.strip()] = body.strip()
    return blocks


class CodeParser:
    """Parse sections of a model's markdown answer; each method takes the section title first."""

    @classmethod
    def parse_blocks(cls, text: str) -> dict[str, str]:
        """Every `## Title` section of `text`, as {title: body}."""
        return split_blocks(text)

    @classmethod
    def parse_block(cls, block: str, text: str) -> str:
        """The body of the first section whose title contains `block` ("" when there is none)."""
        return next((body for title, body in split_blocks(text).items() if block in title), "")

    @classmethod
    def parse_code(cls, block: str | None = None, text: str = "", lang: str = "") -> str:
        """The first fenced code block (in `lang`, when given), looked for under `## block` when given.

        Without a fenced block the text itself is returned (a model often answers with bare code).
        """
        if block:
            text = cls.parse_block(block, text) or text
        code = _fenced(text, lang)
        return (text if code is None else code).strip()

    @classmethod
    def parse_str(cls, block: str, text: str, lang: str = "") -> str:
        """The string value of an assignment in the section's code (`x = "value"` -> `value`)."""
        code = cls.parse_code(block, text, lang)
        return code.split("=")[-1].strip().strip("'\"")

    @classmethod
    def parse_file_list(cls, block: str, text: str, lang: str = "") -> list[Any]:
        """The list literal in the section's code (`["a.py", "b.py"]`).

        Raises:
            ValueError: the section holds no list literal.
        """
        code = cls.parse_code(block, text, lang)
        files = _list_literal(code)
        if files is None:
            raise ValueError(f"no list literal under ## {block}: {code[:80]!r}")
        return files


class OutputParser:
    """Parse a whole answer (not one section): code, strings, lists, structures."""

    @classmethod
    def parse_blocks(cls, text: str) -> dict[str, str]:
        """Every `## Title` section of `text`, as {title: body}."""
        return split_blocks(text)

    @classmethod
    def parse_code(cls, text: str, lang: str = "") -> str:
        """The body of the first fenced block in `lang`, as written (not stripped).

        Raises:
            ValueError: there is no such block.
        """
        code = _fenced(text, lang)
        if code is None:
            raise ValueError(f"no ```{lang} block in {text[:80]!r}")
        return code

    @classmethod
    def parse_str(cls, text: str) -> str:
        """The value of an assignment: `name = 'Alice'` -> `Alice`."""
        return text.split("=")[-1].strip().strip("'\"")

    @classmethod
    def parse_file_list(cls, text: str) -> list[Any]:
        """The list literal in `text` (`files = ['a', 'b']`); without one, its lines."""
        files = _list_literal(text)
        return text.split("\n") if files is None else files

    @staticmethod
    def parse_python_code(text: str) -> str:
        """The Python code in `text`, with or without its fence (even an unclosed one).

        Raises:
            ValueError: no candidate parses as Python.
        """
        start = _FENCE_PYTHON.search(text)
        body = text[start.end() :] if start else text
        closing = body.rfind("```")
        for candidate in ([body[:closing]] if closing >= 0 else []) + [body]:
            candidate = candidate.strip()
            if not candidate:
                continue
            try:
                ast.parse(candidate)
            except SyntaxError:
                continue
            return candidate
        raise ValueError("Invalid python code")

    @classmethod
    def parse_data(cls, data: str) -> dict[str, Any]:
        """Each `## Title` section with its code unfenced and its list literal (if any) evaluated."""
        parsed: dict[str, Any] = {}
        for title, body in split_blocks(data).items():
            code = _fenced(body, "")
            content: Any = body if code is None else code
            files = _list_literal(content)
            parsed[title] = content if files is None else files
        return parsed

    @classmethod
    def extract_content(cls, text: str, tag: str = "CONTENT") -> str:
        """The text between `[TAG]` and `[/TAG]`.

        Raises:
            ValueError: the tags are not there.
        """
        match = re.search(rf"\[{tag}\](.*?)\[/{tag}\]", text, re.DOTALL)
        if match is None:
            raise ValueError(f"no [{tag}] ... [/{tag}] in {text[:80]!r}")
        return match.group(1).strip()

    @classmethod
    def extract_struct(cls, text: str, data_type: type[list] | type[dict]) -> list | dict:
        """The outermost `[...]` (for `list`) or `{...}` (for `dict`) in `text`, evaluated.

        Returns an empty one when `text` holds none.

        Raises:
            ValueError: the text between the brackets is not a literal of that type.
        """
        opening, closing = ("[", "]") if data_type is list else ("{", "}")
        start, end = text.find(opening), text.rfind(closing)
        if start == -1 or end == -1:
            return data_type()
        try:
            value = ast.literal_eval(text[start : end + 1])
        except (ValueError, SyntaxError) as error:
            raise ValueError(f"the {data_type.__name__} in the text does not parse: {error}") from error
        if not isinstance(value, data_type):
            raise ValueError(f"the extracted structure is not a {data_type.__name__}")
        return value
