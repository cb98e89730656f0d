"""QA's step: pytest tests for one file of the generated project."""

from __future__ import annotations

from metagpt.actions.action import Action
from metagpt.actions.write_code import ask_code, code_context
from metagpt.prompts import render_prompt
from metagpt.utils.code_plan import module_name


def test_file_for(filename: str) -> str:
    """`game/board.py` -> `tests/test_board.py`."""
    return f"tests/test_{module_name(filename)}.py"


class WriteTest(Action):
    """Write `tests/test_<module>.py` for one code file, importing it the way the project's code does."""

    async def run(self, filename: str, code: str, context: str, dependencies: dict[str, str]) -> str:
        test_file = test_file_for(filename)
        prompt = render_prompt(
            "write_test",
            filename=filename,
            module=module_name(filename),
            code=code,
            context=context,
            dependencies=code_context(dependencies),
            test_file=test_file,
        )
        return await ask_code(self, prompt, test_file)
