"""Engineer's step in a change: one planned file edited with search/replace blocks, or written whole.

`EDIT_FORMAT` chooses: `diff` asks for SEARCH/REPLACE blocks, `whole` for the complete file, and
`auto` (the default) asks for the whole file when it is small or the model is the embedded local
one (weak models edit badly), blocks otherwise. Blocks are applied all or nothing; when one does
not apply the model is shown it with the file's real text around it and asked once more, and if
that answer does not apply either, `EditFailed` says which file and block. Python that does not
parse after an edit goes back once, as whole files do.
"""

from __future__ import annotations

from loguru import logger

from metagpt.actions.action import Action
from metagpt.actions.write_code import ask_code, syntax_error
from metagpt.exceptions import ModelBehaviorError
from metagpt.incremental.edits import BlockFailure, EditBlock, EditFormatError, EditResult, apply_blocks, parse_blocks
from metagpt.journal.scope import call_scope
from metagpt.prompts import render_prompt

SMALL_FILE_LINES = 40
"""With `EDIT_FORMAT: auto`, files of at most this many lines are written whole."""
DIFF_INSTRUCTIONS = """\
Answer with SEARCH/REPLACE blocks only, each in its own ```python fence, the file's path on the line above
`<<<<<<< SEARCH`:

```python
{path}
<<<<<<< SEARCH
lines copied exactly from the current code, enough to match one place
=======
the new lines
>>>>>>> REPLACE
```

- Copy SEARCH lines exactly as they are in the file, with no line numbers; keep each block small.
- Use several blocks for several places. Change nothing the change does not need.
- A block for another planned file names that file's path; an empty SEARCH creates a new file."""
WHOLE_INSTRUCTIONS = """\
Answer with the complete new code of `{path}` in one code block: start with ```python on its own line,
end with ``` on its own line. Keep everything the change does not need to change exactly as it is."""


FIX_PARSE = "After these edits `{name}` does not parse: {error}\nAnswer again with every block for `{path}`, corrected."


class EditFailed(ModelBehaviorError):
    """The model's edits did not apply, also after it was shown why: nothing was changed."""

    def __init__(self, failures: list[BlockFailure], detail: str = ""):
        self.failures = failures
        first = failures[0].line() if failures else detail
        more = f" (and {len(failures) - 1} more blocks)" if len(failures) > 1 else ""
        super().__init__(f"The change stopped, nothing was changed: {first}{more}.")


def choose_format(setting: str, code: str | None, weak_model: bool) -> str:
    """`whole` or `diff` for one file, from `EDIT_FORMAT` (see the module docstring)."""
    if setting in ("whole", "diff"):
        return "whole" if code is None else setting
    if code is None or weak_model or len(code.splitlines()) <= SMALL_FILE_LINES:
        return "whole"
    return "diff"


class EditCode(Action):
    """Change one existing file for the change (or a fix), in the chosen edit format."""

    async def run(
        self, path: str, files: dict[str, str], context: dict[str, str], edit_format: str, allowed: set[str]
    ) -> dict[str, str]:
        """The new text of `path` (and of any other file its blocks name), nothing written.

        Args:
            path: the file to change; `files[path]` is its current text.
            files: the project's current files (path -> text) the blocks may apply to.
            context: `change`, `plan`, `related` and `reason` for the prompt.
            edit_format: `whole` or `diff`.
            allowed: the paths blocks may name (the plan); the caller records any other as an amendment.

        Raises:
            EditFailed: the blocks still do not apply after one retry.
        """
        instructions = (DIFF_INSTRUCTIONS if edit_format == "diff" else WHOLE_INSTRUCTIONS).format(path=path)
        prompt = render_prompt("edit_code", path=path, code=files[path], instructions=instructions, **context)
        with call_scope(action=self.name, target=path):
            if edit_format == "whole":
                return {path: await ask_code(self, prompt, path)}
            return await self._edit(path, files, prompt)

    async def _edit(self, path: str, files: dict[str, str], prompt: str) -> dict[str, str]:
        llm = self.llm
        messages = llm.messages(prompt, [self.prefix] if self.prefix else None)
        answer = (await llm.acompletion(messages)).text
        result, problem = _apply(answer, path, files)
        if problem:
            logger.warning(f"edits of {path} did not apply; showing the model its failing blocks once")
            messages += [
                {"role": "assistant", "content": answer},
                {"role": "user", "content": render_prompt("fix_edit", failures=problem, path=path)},
            ]
            answer = (await llm.acompletion(messages)).text
            result, problem = _apply(answer, path, files)
            if problem:
                raise EditFailed(result.failures, problem)
        broken = {name: error for name, text in result.files.items() if (error := syntax_error(text, name))}
        if not broken:
            return result.files
        name, error = next(iter(broken.items()))
        logger.warning(f"{name} does not parse after the edits ({error}); asking once for a fix")
        messages += [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": FIX_PARSE.format(name=name, error=error, path=path)},
        ]
        retry, problem = _apply((await llm.acompletion(messages)).text, path, files)
        if not problem and not any(syntax_error(text, n) for n, text in retry.files.items()):
            return retry.files
        logger.warning(f"{name} still does not parse; keeping the first edits")
        return result.files


def _apply(answer: str, path: str, files: dict[str, str]) -> tuple[EditResult, str]:
    """The answer's blocks applied to `files`, and the failures described for the model ('' if none)."""
    try:
        blocks: list[EditBlock] = parse_blocks(answer, path)
    except EditFormatError as error:
        failure = BlockFailure(EditBlock(path, "", "", 0), str(error))
        return EditResult(failures=[failure]), f"{error}.\n"
    result = apply_blocks(files, blocks)
    return result, "".join(failure.describe() for failure in result.failures)
