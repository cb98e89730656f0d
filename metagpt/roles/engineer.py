"""The Engineer: writes the task list's files in dependency order, reviews them, fixes what QA finds."""

from __future__ import annotations

from loguru import logger
from pydantic import BaseModel

from metagpt.actions.debug_error import DebugError
from metagpt.actions.design_api import SystemDesign, WriteDesign
from metagpt.actions.project_management import Tasks, WriteTasks
from metagpt.actions.run_code import TestOutcome
from metagpt.actions.write_code import WriteCode
from metagpt.actions.write_code_review import WriteCodeReview
from metagpt.roles.role import Role
from metagpt.schema import Message
from metagpt.utils.code_plan import CodePlan, in_dependency_order, python_imports


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

    With `use_code_review` each file is then reviewed (`CODE_REVIEW_ROUNDS` rounds) against the
    requirements and the files it imports, and rewritten when the reviewer finds problems. A
    fix request from QA (a `TestOutcome` sent to the Engineer) makes it rewrite that one file.
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
        self._reviews: list[str] = []

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
        files = list(dict.fromkeys(code_path(n, self.package) for n in [*tasks.task_list, *design.file_list]))
        notes = {code_path(item.file, self.package): item.description for item in tasks.logic_analysis}
        self._plan = plan = CodePlan.from_tasks(files, notes)
        self._context_text = f"{design_msg.content}\n\n{tasks_msg.content}"
        config = self.context.config
        logger.info(f"{self._setting}: writing {len(files)} files, up to {config.engineer_concurrency} at once")

        async def write(filename: str) -> str:
            deps = {d: self.code[d] for d in plan.depends_on[filename] if d in self.code}
            code = await self.actions[0].run(filename, design_msg.content, tasks_msg.content, deps)
            self._save(filename, code)
            logger.info(f"{self._setting}: wrote {filename}")
            return code

        await in_dependency_order(plan, write, config.engineer_concurrency)
        await self._commit(f"Code: {len(files)} files of {self.package}")
        if self.use_code_review:
            await self._review_all()
        listing = "\n".join(f"- {self.package}/{name}" for name in files)
        return Message(
            f"Wrote {len(files)} files:\n{listing}",
            instruct_content=CodeSummary(package=self.package, files=files),
            role=self.profile,
            cause_by=WriteCode,
            sent_from=self.name,
        )

    def _save(self, filename: str, code: str) -> None:
        self.code[filename] = code
        if self.project is not None:
            self.project.write(f"{self.package}/{filename}", code)

    def _uses(self, filename: str) -> dict[str, str]:
        """The code of the planned files `filename` imports (or, before it parses, depends on)."""
        imported = python_imports(self.code.get(filename, ""), self.code) if filename.endswith(".py") else []
        names = imported or (self._plan.depends_on.get(filename, []) if self._plan else [])
        return {name: self.code[name] for name in names if name in self.code and name != filename}

    # -- review ---------------------------------------------------------------------------------

    async def _review_all(self) -> None:
        """Review every file (independent ones at once), `CODE_REVIEW_ROUNDS` times at most."""
        config = self.context.config
        review: WriteCodeReview = self.actions[1]
        self._set_state(1)

        async def one(filename: str) -> None:
            for round_no in range(1, config.code_review_rounds + 1):
                verdict, code = await review.run(
                    filename, self.code[filename], self._context_text, self._uses(filename)
                )
                lines = "".join(f"  - {finding}\n" for finding in verdict.findings) or "  - no findings\n"
                rewritten = " (rewritten)" if verdict.verdict == "LBTM" else ""
                self._reviews.append(f"- `{filename}`, round {round_no}: **{verdict.verdict}**{rewritten}\n{lines}")
                if verdict.verdict == "LGTM":
                    return
                self._save(filename, code)

        await in_dependency_order(self._plan, one, config.engineer_concurrency)
        if self.project is not None:
            self.project.write("docs/code_review.md", "# Code review\n\n" + "".join(self._reviews), reserved=True)
        await self._commit("Code review")

    # -- fixing what QA found -------------------------------------------------------------------

    async def _fix(self, request: Message) -> Message:
        outcome: TestOutcome = request.instruct_content
        filename = code_path(outcome.file_to_fix, self.package)
        if filename not in self.code:
            reply = f"Cannot fix {outcome.file_to_fix}: it is not one of the files I wrote."
        else:
            logger.info(f"{self._setting}: fixing {filename} ({outcome.summary})")
            others = self._uses(filename)
            code = await self.actions[2].run(filename, self.code[filename], others, outcome.output, self._context_text)
            self._save(filename, code)
            reply = f"Fixed {self.package}/{filename} after test round {outcome.round}."
        return Message(reply, role=self.profile, cause_by=DebugError, sent_from=self.name, send_to=request.sent_from)

    async def _commit(self, message: str) -> None:
        if self.project is not None:
            await self.project.commit(message)
