"""The QA engineer: writes tests for the Engineer's code, runs them, and routes each failure.

After the Engineer's code arrives, QA writes `tests/test_<module>.py` for each code file, runs
pytest on a scratch copy of the package and its tests (sandboxed: `metagpt.sandbox`, so a test
can change nothing in the project), and then either reports
success, sends the file at fault back to the Engineer (a `TestOutcome` addressed to it), or fixes
its own test. The Engineer's fix (`DebugError`, addressed back) makes QA run the tests again, at
most `TEST_ROUND_ALLOWED` runs in all. `docs/qa_report.md` is rewritten after every run.
"""

from __future__ import annotations

import importlib.util
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, cast

from loguru import logger
from pydantic import BaseModel, Field

from metagpt.actions.debug_error import DebugError
from metagpt.actions.design_api import WriteDesign
from metagpt.actions.project_management import WriteTasks
from metagpt.actions.run_code import RunCode, TestOutcome
from metagpt.actions.write_code import WriteCode
from metagpt.actions.write_test import WriteTest, test_file_for
from metagpt.exceptions import SandboxUnavailable
from metagpt.logs import scrub
from metagpt.roles.engineer import CodeSummary
from metagpt.roles.role import Role
from metagpt.sandbox import Limits, isolation
from metagpt.schema import Message
from metagpt.utils.code_plan import ENTRY_POINTS, CodePlan, in_dependency_order
from metagpt.utils.safe_read import UnsafeFile, read_text

if TYPE_CHECKING:
    from metagpt.project_repo import ProjectRepo

UNTESTED = ENTRY_POINTS | {"__init__.py", "setup.py", "conftest.py"}


class QaReport(BaseModel):
    """Everything QA did: the tests it wrote, each run, each fix."""

    tests: list[str] = Field(default_factory=list)
    runs: list[TestOutcome] = Field(default_factory=list)
    fixes: list[str] = Field(default_factory=list)
    final: str = ""
    isolation: str = ""
    """`bwrap` when the tests ran isolated by bubblewrap, `none` under limits only."""
    notes: list[str] = Field(default_factory=list)
    """Project files QA did not read (links, special or oversized files), one line each."""

    @property
    def passed(self) -> bool:
        return bool(self.runs) and self.runs[-1].ok

    def to_markdown(self) -> str:
        lines = ["# QA report", "", f"**Result: {self.final or 'running'}**", "", "## Tests written", ""]
        lines += [f"- `{name}`" for name in self.tests] or ["(none)"]
        lines += [
            "",
            "## Runs",
            "",
            "| round | result | file at fault | sent to | why |",
            "| --- | --- | --- | --- | --- |",
        ]
        for run in self.runs:
            verdict = "passed" if run.ok else run.summary
            lines.append(
                f"| {run.round} | {verdict} | {run.file_to_fix or '-'} | {run.send_to or '-'} | {run.reason or '-'} |"
            )
        lines += ["", "## Fixes", ""] + ([f"- {fix}" for fix in self.fixes] or ["(none)"])
        if self.isolation:
            how = "isolated by bubblewrap" if self.isolation == "bwrap" else "not isolated (limits only)"
            lines += ["", "## Sandbox", "", f"Tests ran on a scratch copy of the package and tests, {how}."]
        strays = [(run.round, stray) for run in self.runs for stray in run.strays]
        if strays:
            lines += ["", "## Stray processes killed", ""] + [f"- round {r}: `{name}`" for r, name in strays]
        if self.notes:
            lines += ["", "## Files not read", ""] + [f"- {note}" for note in self.notes]
        if self.runs and not self.runs[-1].ok:
            lines += ["", "## Output of the last run", "", "```", self.runs[-1].output, "```"]
        return scrub("\n".join(lines) + "\n")


class QaEngineer(Role):
    name: str = "Edward"
    profile: str = "QaEngineer"
    goal: str = "Write comprehensive and robust tests to ensure the code works as expected without bugs"
    constraints: str = "Tests must be fast, deterministic and PEP8-compliant; never start loops that wait forever"
    test_round_allowed: int = 0
    """Test runs allowed; 0 takes `TEST_ROUND_ALLOWED` from the config."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_actions([WriteTest, RunCode, DebugError])
        self._watch([WriteCode])
        self.report = QaReport()
        self._summary: CodeSummary | None = None
        self._tests: dict[str, str] = {}
        """QA's own test files by path, as QA wrote them: never read back from disk."""
        self._done = False

    async def _think(self) -> bool:
        """New code or a fix: (write tests and) run them, until QA has reported its result."""
        self._set_state(-1 if self._done else 1)
        return self.rc.todo is not None

    async def _act(self) -> Message:
        if self.project is None:
            raise RuntimeError("QaEngineer works in a project folder: hire it in a SoftwareCompany")
        for message in self.rc.news:
            if isinstance(message.instruct_content, CodeSummary):
                self._summary = message.instruct_content
        if self._summary is None:
            return Message("No code to test yet.", role=self.profile, cause_by=RunCode, sent_from=self.name)
        if importlib.util.find_spec("pytest") is None:
            self._finish("not run: pytest is not installed (pip install pytest)")
            self._write_report()
            return self._report_message()
        if not self.report.tests:
            await self._write_tests()
        return await self._run_round()

    # -- steps ----------------------------------------------------------------------------------

    @property
    def _repo(self) -> ProjectRepo:
        """The project folder; `_act` has checked there is one."""
        if self.project is None:
            raise RuntimeError("QaEngineer works in a project folder: hire it in a SoftwareCompany")
        return self.project

    @property
    def _code_summary(self) -> CodeSummary:
        """The Engineer's summary of the code; `_act` has waited for one."""
        if self._summary is None:
            raise RuntimeError("QaEngineer has no code summary yet")
        return self._summary

    def _code_files(self) -> list[str]:
        return [f"{self._code_summary.package}/{name}" for name in self._code_summary.files if name.endswith(".py")]

    def _design_and_tasks(self) -> str:
        return "\n\n".join(m.content for m in self.rc.memory.get() if m.cause_by in (WriteDesign, WriteTasks))

    def _read_code(self) -> dict[str, str]:
        """The project's code files as they are on disk now (the Engineer may have fixed some).

        Read without following links: a link, a special file or an oversized file is left out,
        with a note in the report.
        """
        code: dict[str, str] = {}
        for name in self._code_files():
            try:
                code[name] = read_text(self._repo.path, name)
            except UnsafeFile as error:
                if str(error) not in self.report.notes:
                    self.report.notes.append(str(error))
                    logger.warning(f"{self._setting}: not read: {error}")
        return code

    async def _write_tests(self) -> None:
        writer, context = self.actions[0], self._design_and_tasks()
        targets = [f for f in self._code_files() if PurePosixPath(f).name not in UNTESTED]
        code = self._read_code()

        async def write(path: str) -> str:
            others = {name: text for name, text in code.items() if name != path}
            test = await writer.run(PurePosixPath(path).name, code[path], context, others)
            self._repo.write(test_file_for(path), test)
            self._tests[test_file_for(path)] = test
            return test_file_for(path)

        targets = [f for f in targets if f in code]
        written = await in_dependency_order(CodePlan(files=targets), write, self.context.config.engineer_concurrency)
        self.report.tests = list(written.values())
        await self._repo.commit(f"Tests: {len(self.report.tests)} files")

    async def _run_round(self) -> Message:
        config = self.context.config
        allowed = self.test_round_allowed or config.test_round_allowed
        runner = cast(RunCode, self.actions[1])
        limits = Limits.wall_clock(config.test_timeout)
        try:
            self.report.isolation = isolation(config.sandbox)
        except SandboxUnavailable as error:
            self._finish(f"not run: {error}")
            self._write_report()
            return self._report_message()
        while True:
            outcome = await runner.run(
                self._code_summary.package, self._read_code(), dict(self._tests), limits,
                mode=config.sandbox, network=config.sandbox_network,
            )  # fmt: skip
            outcome.round = len(self.report.runs) + 1
            self.report.runs.append(outcome)
            logger.info(f"{self._setting}: test round {outcome.round}: {outcome.summary}")
            if outcome.ok:
                self._finish(f"passed ({outcome.summary}) in round {outcome.round}")
            elif not outcome.send_to:
                self._finish(f"failed ({outcome.summary}): {outcome.reason}")
            elif outcome.round >= allowed:
                self._finish(f"failed after {allowed} rounds ({outcome.summary})")
            elif outcome.send_to == "Engineer":
                self.report.fixes.append(f"round {outcome.round}: `{outcome.file_to_fix}` sent to the Engineer")
            self._write_report()
            await self._repo.commit(f"Test round {outcome.round}: {outcome.summary}")
            if self._done:
                return self._report_message()
            if outcome.send_to == "Engineer":
                return Message(
                    f"Tests failed ({outcome.summary}). Please fix {outcome.file_to_fix}: {outcome.reason}.",
                    instruct_content=outcome,
                    role=self.profile,
                    cause_by=RunCode,
                    sent_from=self.name,
                    send_to="Engineer",
                )
            await self._fix_test(outcome)

    async def _fix_test(self, outcome: TestOutcome) -> None:
        path = outcome.file_to_fix
        test = self._tests[path]
        fixed = await self.actions[2].run(path, test, self._read_code(), outcome.output, self._design_and_tasks())
        self._repo.write(path, fixed)
        self._tests[path] = fixed
        self.report.fixes.append(f"round {outcome.round}: QA rewrote its test `{path}`")

    def _finish(self, result: str) -> None:
        self._done = True
        self.report.final = result
        logger.info(f"{self._setting}: tests {result}")

    def _report_message(self) -> Message:
        return Message(
            f"Tests {self.report.final}",
            instruct_content=self.report,
            role=self.profile,
            cause_by=RunCode,
            sent_from=self.name,
        )

    def _write_report(self) -> None:
        self._repo.write("docs/qa_report.md", self.report.to_markdown(), reserved=True)
