"""Helpers MetaGPT scripts import from `metagpt.utils.common`."""

from __future__ import annotations

import re

from metagpt.schema import any_to_str, any_to_str_set

__all__ = ["CodeParser", "any_to_name", "any_to_str", "any_to_str_set"]


def any_to_name(value: object) -> str:
    """The bare class name of a class, an instance or a dotted routing key (`WritePRD`)."""
    return any_to_str(value).rsplit(".", 1)[-1]


class CodeParser:
    """Pull code out of a model's markdown answer."""

    @staticmethod
    def parse_code(block: str | None = None, text: str = "", lang: str = "") -> str:
        """The first fenced code block (in `lang`, when given) of `text`, under `## block` when given.

        Without a fenced block, the text itself is returned.
        """
        if block:
            section = re.search(rf"##\s*{re.escape(block)}.*?\n(.*?)(?=\n##\s|\Z)", text, re.DOTALL)
            text = section.group(1) if section else text
        fence = re.search(rf"```{re.escape(lang)}[^\n]*\n(.*?)```", text, re.DOTALL)
        return (fence.group(1) if fence else text).strip()
