"""The change's code and tests: the Engineer follows the plan, QA checks it did not break anything.

All the plan's files are computed before any is written, so a block that does not apply leaves
every file as it was; the tree is then put back to the base commit (the change request and plan
commits stay in the history) and the change stops. With tests, the baseline is the project's
tests run before the change; afterwards every test that passed then must pass again, and a
failure goes to the Engineer (a code file) or QA (its own new test) within `TEST_ROUND_ALLOWED`.
"""

from __future__ import annotations

from loguru import logger

from metagpt.actions.debug_error import DebugError
from metagpt.actions.run_code import RunCode, TestOutcome
from metagpt.actions.write_code import code_context
from metagpt.const import REQUIREMENTS_FILE
from metagpt.exceptions import SandboxUnavailable
from metagpt.incremental.change import PlannedFile
from metagpt.incremental.change_actions import WriteChangeTest, WriteNewFile
from metagpt.incremental.edit_code import EditCode, EditFailed, choose_format
from metagpt.incremental.project import load_project
from metagpt.incremental.stages import Stages
from metagpt.roles.qa_engineer import QaReport
from metagpt.sandbox import Limits, isolation
from metagpt.utils.code_plan import python_imports

MAX_RELATED_FILES = 6
"""Other files shown in full to the Engineer for one planned file (those it imports first)."""


class CodeStage:
    """Applies the change plan, then (with tests) runs, judges and fixes."""

    def __init__(self, stages: Stages, edit_format: str, weak_model: bool):
        self.stages = stages
        self.edit_format = edit_format
        self.weak_model = weak_model
        self.qa: QaReport | None = None
        self.baseline: TestOutcome | None = None
        self.new_tests: dict[str, str] = {}
        self.stopped = False
        """True once the change stopped and the tree was put back to the base commit."""

    @property
    def record(self):
        assert self.stages.record is not None
        return self.stages.record

    # -- code ---------------------------------------------------------------------------------

    async def apply_plan(self, stage: str = "code") -> None:
        """Write every planned file (or none); commit them as one stage."""
        plan = self.record.plan
        assert plan is not None
        files = dict(self.stages.snapshot.code)
        new: dict[str, str] = {}
        removed: set[str] = set()
        try:
            for item in list(plan.files):  # amendments join the plan already done
                await self._one(item, files, new, removed)
        except EditFailed as failed:
            await self.stop(str(failed))
            raise
        self._write(new, removed)
        await self.stages.commit(stage)
        self.stages.snapshot = load_project(self.stages.project.path)

    async def _one(self, item: PlannedFile, files: dict[str, str], new: dict[str, str], removed: set[str]) -> None:
        current = {**files, **new}
        if item.action == "delete":
            removed.add(item.path)
        elif item.action == "rename":
            new[item.new_path] = current.get(item.path, "")
            removed.add(item.path)
        elif item.action == "create":
            action = self.stages.action(WriteNewFile, "Engineer")
            new[item.path] = await action.run(item.path, self._context(item.path, item.reason, current))
        elif item.path not in current:
            raise EditFailed([], f"{item.path} is not a text file the Engineer can edit")
        else:
            await self._edit(item.path, item.reason, current, new)
        logger.info(f"Engineer: {item.action} {item.path}")

    async def _edit(
        self, path: str, reason: str, current: dict[str, str], new: dict[str, str], extra: str = ""
    ) -> None:
        """Edit one existing file; files its blocks name outside the plan are added to it, recorded."""
        plan = self.record.plan
        assert plan is not None
        fmt = choose_format(self.edit_format, current.get(path), self.weak_model)
        action = self.stages.action(EditCode, "Engineer")
        context = self._context(path, reason, current)
        if extra:
            context["change"] += f"\n\n{extra}"
        changed = await action.run(path, current, context, fmt, plan.touched())
        for name in changed:
            if name not in plan.touched():
                verb = "modify" if name in current else "create"
                plan.files.append(PlannedFile(action=verb, path=name, new_path="", reason=f"needed by {path}"))
                self.record.amendments.append(f"{verb} `{name}`: the edits of `{path}` needed it")
        new.update(changed)

    def _context(self, path: str, reason: str, current: dict[str, str]) -> dict[str, str]:
        plan = self.record.plan
        assert plan is not None
        text = current.get(path, "")
        planned = [item.path for item in plan.files if item.path != path and item.path in current]
        imported = python_imports(text, list(current)) if path.endswith(".py") else []
        related = list(dict.fromkeys([*imported, *planned]))[:MAX_RELATED_FILES]
        return {
            "change": self.stages.change_text(),
            "plan": "\n".join(f"- {i.action} `{i.path}`: {i.reason}" for i in plan.files),
            "related": code_context({name: current[name] for name in related if name != path}),
            "reason": reason,
        }

    def _write(self, new: dict[str, str], removed: set[str]) -> None:
        project = self.stages.project
        for path, text in new.items():
            project.write(path, text, reserved=path == REQUIREMENTS_FILE)
        for path in sorted(removed - set(new)):
            project.resolve(path).unlink(missing_ok=True)

    async def stop(self, why: str) -> None:
        """Put the tree back to the base commit and record that as the change's last commit."""
        history, base = self.stages.history, self.stages.base
        history.restore_tree(base)
        self.stopped = True
        await self.stages.commit(f"stopped, the project is back at {base[:8]}: {why}")

    # -- tests --------------------------------------------------------------------------------

    async def run_baseline(self) -> TestOutcome | None:
        """The project's own tests before the change; None when it has none."""
        self.qa = QaReport()
        if not self.stages.snapshot.tests:
            return None
        self.baseline = await self._run()
        logger.info(f"QaEngineer: baseline {self.baseline.summary}")
        return self.baseline

    async def write_tests(self, bugfix: bool) -> str:
        """QA's test file for the acceptance criteria; committed as its own stage."""
        record, snapshot = self.record, self.stages.snapshot
        test_file = f"tests/test_change_{record.number:04d}_{record.request.slug.replace('-', '_')}.py"
        code = code_context({p: t for p, t in snapshot.code.items() if p.endswith(".py")})
        tests = code_context(snapshot.tests)
        action = self.stages.action(WriteChangeTest, "QaEngineer")
        text = await action.run(test_file, self.stages.change_text(), code, tests, bugfix)
        self.stages.project.write(test_file, text)
        self.new_tests[test_file] = text
        record.tests.append(test_file)
        assert self.qa is not None
        self.qa.tests.append(test_file)
        self.stages.save_record()
        stage = "failing test reproducing the bug" if bugfix else "tests"
        await self.stages.commit(stage)
        self.stages.snapshot = load_project(self.stages.project.path)
        return test_file

    async def reproduce(self) -> TestOutcome:
        """Run the bug's test on the unfixed code: it should fail (noted when it does not)."""
        outcome = await self._run()
        assert self.qa is not None
        verdict = "fails as it should" if not outcome.ok else "passes already: the bug was not reproduced"
        self.qa.fixes.append(f"before the fix: {outcome.summary}; the reproducing test {verdict}")
        logger.info(f"QaEngineer: before the fix, {outcome.summary}")
        return outcome

    async def test_and_fix(self, allowed: int) -> None:
        """Run every test; send each failure to whoever can fix it, at most `allowed` runs."""
        qa = self.qa
        assert qa is not None
        for round_no in range(1, allowed + 1):
            outcome = await self._run()
            outcome.round = round_no
            qa.runs.append(outcome)
            regressions = self.regressions(outcome)
            logger.info(f"QaEngineer: test round {round_no}: {outcome.summary}")
            if outcome.ok and not regressions:
                qa.final = f"passed ({outcome.summary}) in round {round_no}"
                return
            if not outcome.send_to or round_no == allowed:
                qa.final = f"failed ({outcome.summary}): " + (
                    f"regressions: {', '.join(regressions)}" if regressions else outcome.reason
                )
                return
            await self._fix(outcome)

    def regressions(self, outcome: TestOutcome) -> list[str]:
        """Tests that passed before the change and do not pass now."""
        if self.baseline is None:
            return []
        return [name for name, ok in self.baseline.cases.items() if ok and not outcome.cases.get(name, False)]

    async def _fix(self, outcome: TestOutcome) -> None:
        path, qa = outcome.file_to_fix, self.qa
        assert qa is not None
        output = f"# Failing tests (round {outcome.round})\n```\n{outcome.output}\n```"
        if outcome.send_to == "QaEngineer" and path in self.new_tests:
            action = self.stages.action(DebugError, "QaEngineer")
            code = {p: t for p, t in self.stages.snapshot.code.items() if p.endswith(".py")}
            fixed = await action.run(path, self.new_tests[path], code, outcome.output, self.stages.change_text())
            self.stages.project.write(path, fixed)
            self.new_tests[path] = fixed
            qa.fixes.append(f"round {outcome.round}: QA rewrote its test `{path}`")
            await self.stages.commit(f"QA fixes {path} (test round {outcome.round})")
        else:
            current = dict(self.stages.snapshot.code)
            if path not in current:
                qa.fixes.append(f"round {outcome.round}: `{path}` is not a code file the Engineer can change")
                return
            new: dict[str, str] = {}
            try:
                await self._edit(path, f"make the failing tests pass: {outcome.reason}", current, new, output)
            except EditFailed as failed:
                qa.fixes.append(f"round {outcome.round}: the fix of `{path}` did not apply: {failed}")
                return
            self._write(new, set())
            qa.fixes.append(f"round {outcome.round}: `{path}` fixed by the Engineer")
            await self.stages.commit(f"fix {path} (test round {outcome.round})")
        self.stages.save_record()
        self.stages.snapshot = load_project(self.stages.project.path)

    async def _run(self) -> TestOutcome:
        snapshot, config = self.stages.snapshot, self.stages.config
        code = {p: t for p, t in snapshot.code.items() if p.endswith(".py")}
        limits = Limits.wall_clock(config.test_timeout)
        assert self.qa is not None
        try:
            self.qa.isolation = isolation(config.sandbox)
        except SandboxUnavailable as error:
            return TestOutcome(summary=f"not run: {error}", reason=str(error))
        runner = self.stages.action(RunCode, "QaEngineer")
        return await runner.run(
            snapshot.package, code, dict(snapshot.tests), limits, mode=config.sandbox, network=config.sandbox_network
        )
