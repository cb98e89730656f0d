"""The Engineer: writes the task list's files in dependency order, reviews them, fixes what QA finds."""

from __future__ import annotations

import functools
from typing import cast

from loguru import logger
from pydantic import BaseModel

from metagpt.actions.code_design import SKELETON_NOTE, design_for_code, skeleton
from metagpt.actions.debug_error import DebugError
from metagpt.actions.design_api import SystemDesign, WriteDesign
from metagpt.actions.project_management import Tasks, WriteTasks
from metagpt.actions.run_code import TestOutcome
from metagpt.actions.write_code import WriteCode, syntax_error
from metagpt.actions.write_code_review import WriteCodeReview
from metagpt.exceptions import ModelBehaviorError
from metagpt.roles.role import Role
from metagpt.schema import Message
from metagpt.utils.code_plan import CodePlan, python_imports, write_and_review
from metagpt.utils.paths import merge_file_lists


def code_path(name: str, package: str) -> str:
    """A file's path inside the package folder; models often repeat the package name in front."""
    prefix = f"{package}/"
    return name[len(prefix) :] if name.startswith(prefix) and len(name) > len(prefix) else name


class CodeSummary(BaseModel):
    """What the Engineer wrote: the package and its files (package-relative)."""

    package: str
    files: list[str]


class Engineer(Role):
    """Writes every file of the task list; independent files at once, each seeing what it uses.

    With `use_code_review` each file is also reviewed (`CODE_REVIEW_ROUNDS` rounds) against the
    requirements and the final code of the files it imports, and rewritten when the reviewer
    finds problems. A review starts as soon as its file and those imports are ready, while later
    files are still being written; a review whose answer stays invalid is recorded as skipped.
    A fix request from QA (a `TestOutcome` sent to the Engineer) makes it rewrite that one file.
    """

    name: str = "Alex"
    profile: str = "Engineer"
    goal: str = "Write elegant, readable, extensible, efficient code"
    constraints: str = "The code must be PEP8-compliant, modular, and follow the design exactly"
    use_code_review: bool = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_actions([WriteCode, WriteCodeReview, DebugError])
        self._watch([WriteTasks])
        self.code: dict[str, str] = {}
        """Current code by package-relative path."""
        self.package = ""
        self._context_text = ""
        self._plan: CodePlan | None = None
        self._reviews: dict[str, list[str]] = {}
        """Each file's review rounds, as lines of `docs/code_review.md`."""
        self._hold_rewrites = False
        self._unsaved: dict[str, str] = {}
        """Rewritten code kept from the disk until the first versions are committed."""

    # -- choosing what to do --------------------------------------------------------------------

    async def _think(self) -> bool:
        """Fix requests first (QA waits on them), else write the code for new tasks."""
        if self._fix_requests():
            self._set_state(2)
        elif any(m.cause_by == WriteTasks for m in self.rc.news):
            self._set_state(0)
        else:
            self._set_state(-1)
        return self.rc.todo is not None

    def _fix_requests(self) -> list[Message]:
        return [m for m in self.rc.news if isinstance(m.instruct_content, TestOutcome)]

    async def _act(self) -> Message:
        if isinstance(self.rc.todo, DebugError):
            message = await self._fix(self._fix_requests()[-1])
        else:
            message = await self._write_project()
        self.rc.memory.add(message)
        return message

    # -- writing --------------------------------------------------------------------------------

    def _latest(self, action: type, model: type):
        """The newest document of `model` caused by `action` that this role has seen."""
        for message in reversed(self.rc.memory.get_by_action(action)):
            if isinstance(message.instruct_content, model):
                return message
        return None

    async def _write_project(self) -> Message:
        tasks_msg = self._latest(WriteTasks, Tasks)
        design_msg = self._latest(WriteDesign, SystemDesign)
        if tasks_msg is None or design_msg is None:
            raise RuntimeError("Engineer needs both the system design and the task list")
        design: SystemDesign = design_msg.instruct_content
        tasks: Tasks = tasks_msg.instruct_content
        self.package = design.python_package_name
        lists = (tasks.task_list, design.file_list)
        files = merge_file_lists(*([code_path(n, self.package) for n in names] for names in lists))
        notes = {code_path(item.file, self.package): item.description for item in tasks.logic_analysis}
        self._plan = plan = CodePlan.from_tasks(files, notes)
        design_text = design_for_code(design)  # no raw mermaid: small models copy `classDiagram` as `classGame:`
        self._context_text = f"{design_text}\n\n{tasks_msg.content}"
        config = self.context.config
        logger.info(f"{self._setting}: writing {len(files)} files, up to {config.engineer_concurrency} at once")
        first_versions: dict[str, str] = {}

        async def write(filename: str) -> None:
            deps = {d: first_versions[d] for d in plan.depends_on[filename] if d in first_versions}
            stand_in = functools.partial(skeleton, filename, design)
            code = await self.actions[0].run(filename, design_text, tasks_msg.content, deps, fallback=stand_in)
            first_versions[filename] = code
            self._save(filename, code, hold=False)
            logger.info(f"{self._setting}: wrote {filename}")

        async def commit_code() -> None:
            await self._commit(f"Code: {len(files)} files of {self.package}")
            self._flush_rewrites()

        self._reviews = {}
        self._hold_rewrites = self.use_code_review
        try:
            await write_and_review(
                plan,
                write,
                self._review if self.use_code_review else None,
                lambda filename: self._uses(filename),
                config.engineer_concurrency,
                after_writes=commit_code,
            )
        finally:
            self._flush_rewrites()
        if self.use_code_review:
            await self._write_review_notes()
        listing = "\n".join(f"- {self.package}/{name}" for name in files)
        skipped = [name for name, entries in self._reviews.items() if any("**skipped**" in e for e in entries)]
        note = f"\nReview skipped for: {', '.join(skipped)}" if skipped else ""
        stand_ins = [name for name in files if SKELETON_NOTE in self.code.get(name, "")]
        if stand_ins:
            note += f"\nWritten from the design, not by the model (its code did not parse): {', '.join(stand_ins)}"
        return Message(
            f"Wrote {len(files)} files:\n{listing}{note}",
            instruct_content=CodeSummary(package=self.package, files=files),
            role=self.profile,
            cause_by=WriteCode,
            sent_from=self.name,
        )

    def _save(self, filename: str, code: str, hold: bool = True) -> None:
        """Keep `code` as the file's current code and write it, unless rewrites are held back."""
        self.code[filename] = code
        if hold and self._hold_rewrites:
            self._unsaved[filename] = code
        elif self.project is not None:
            self.project.write(f"{self.package}/{filename}", code)

    def _flush_rewrites(self) -> None:
        """Save the code held back while the first versions were being committed."""
        self._hold_rewrites = False
        unsaved, self._unsaved = self._unsaved, {}
        for filename, code in unsaved.items():
            self._save(filename, code)

    def _uses(self, filename: str) -> list[str]:
        """The planned files `filename` imports; for a file that is not Python or does not parse, its plan."""
        planned = list(dict.fromkeys([*(self._plan.files if self._plan else []), *self.code]))
        code = self.code.get(filename, "")
        if filename.endswith(".py") and syntax_error(code, filename) is None:
            names = python_imports(code, planned)
        else:
            names = self._plan.depends_on.get(filename, []) if self._plan else []
        return [name for name in names if name != filename]

    def _used_code(self, filename: str) -> dict[str, str]:
        """The current code of the files `filename` uses."""
        return {name: self.code[name] for name in self._uses(filename) if name in self.code}

    # -- review ---------------------------------------------------------------------------------

    async def _review(self, filename: str) -> None:
        """Review one file, `CODE_REVIEW_ROUNDS` times at most, rewriting it on LBTM.

        The review is optional: an answer that stays invalid (`ModelBehaviorError`) is recorded
        as skipped, with the reason, and the file keeps its code.
        """
        review = cast(WriteCodeReview, self.actions[1])
        entries = self._reviews.setdefault(filename, [])
        for round_no in range(1, self.context.config.code_review_rounds + 1):
            try:
                verdict, code = await review.run(
                    filename, self.code[filename], self._context_text, self._used_code(filename)
                )
            except ModelBehaviorError as exc:
                reason = " ".join(str(exc).split())[:300]
                logger.warning(f"{self._setting}: review of {filename} skipped: {reason}")
                entries.append(f"- `{filename}`, round {round_no}: **skipped**: {reason}\n")
                return
            lines = "".join(f"  - {finding}\n" for finding in verdict.findings) or "  - no findings\n"
            rewritten = " (rewritten)" if verdict.verdict == "LBTM" else ""
            entries.append(f"- `{filename}`, round {round_no}: **{verdict.verdict}**{rewritten}\n{lines}")
            if verdict.verdict == "LGTM":
                return
            self._save(filename, code)

    async def _write_review_notes(self) -> None:
        """`docs/code_review.md`: every file's review rounds, in task order; then the commit."""
        order = self._plan.files if self._plan else list(self._reviews)
        notes = "".join(entry for name in order for entry in self._reviews.get(name, []))
        if self.project is not None:
            self.project.write("docs/code_review.md", "# Code review\n\n" + notes, reserved=True)
        await self._commit("Code review")

    # -- fixing what QA found -------------------------------------------------------------------

    async def _fix(self, request: Message) -> Message:
        outcome = cast(TestOutcome, request.instruct_content)  # QA sends its outcome
        filename = code_path(outcome.file_to_fix, self.package)
        if filename not in self.code:
            reply = f"Cannot fix {outcome.file_to_fix}: it is not one of the files I wrote."
        else:
            logger.info(f"{self._setting}: fixing {filename} ({outcome.summary})")
            others = self._used_code(filename)
            code = await self.actions[2].run(filename, self.code[filename], others, outcome.output, self._context_text)
            self._save(filename, code)
            reply = f"Fixed {self.package}/{filename} after test round {outcome.round}."
        return Message(reply, role=self.profile, cause_by=DebugError, sent_from=self.name, send_to=request.sent_from)

    async def _commit(self, message: str) -> None:
        if self.project is not None:
            await self.project.commit(message)
