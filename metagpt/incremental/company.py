"""`ChangeCompany`: the software company changing a project that exists, on its git history.

company = ChangeCompany(config)
company.hire_for_change(run_tests=True)
company.invest(3.0)
company.open_project("workspace/calculator", "add subtraction")
await company.run()

`open_project` reads the project with no model call and refuses a working tree with uncommitted
changes (unless `allow_dirty`, which commits them first); `run` makes the change stage by stage,
one commit each, on top of the commit it started from. Calls are journaled like any run's, so
`metagpt logs` shows them and their cost.

An interrupted change resumes (`metagpt resume DIR`, or the same change command again): the tree
goes back to the change's base commit and the change is replayed with the same number, its
finished calls answered from the journal at no cost and its finished stages taking back the
commits they made (see `ChangeHistory.rewind`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from loguru import logger

from metagpt.configs.settings import Config
from metagpt.const import LOGS_DIR, STATE_DIR
from metagpt.context import Context, runs_as_current
from metagpt.exceptions import UserError
from metagpt.incremental.coding import CodeStage
from metagpt.incremental.history import ChangeHistory
from metagpt.incremental.stages import Stages
from metagpt.journal.recovery import tidy
from metagpt.journal.store import Journal, RunRecord
from metagpt.project_repo import ProjectRepo
from metagpt.report import publish_project
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager, QaEngineer
from metagpt.roles.role import Role
from metagpt.software_company import SoftwareCompany
from metagpt.team import check_idea
from metagpt.utils.git_history import LAST_COMMIT

OURS = (f"{STATE_DIR}/", f"{LOGS_DIR}/")
"""Paths of our own that never make a working tree count as changed (the lock, the journal, the log)."""


class ChangeCompany(SoftwareCompany):
    """A software company whose project exists already; see the module docstring."""

    def __init__(self, config: Config | None = None, context: Context | None = None, workspace: Path | None = None):
        super().__init__(config, context, workspace)
        self.request = ""
        self.run_tests = False
        self.base: str | None = None
        """The commit the change started from (after any work-in-progress commit)."""
        self.stages: Stages | None = None
        self.code: CodeStage | None = None

    def hire_for_change(self, run_tests: bool = False) -> None:
        """The roles a change needs: PM, Architect, Project Manager, Engineer, and QA with tests."""
        roles: list[Role] = [ProductManager(), Architect(), ProjectManager(), Engineer()]
        if run_tests:
            roles.append(QaEngineer())
        self.hire(roles)
        self.run_tests = run_tests

    def open_project(self, path: Path | str, request: str, allow_dirty: bool = False) -> Path:
        """Open the project in `path` for the change `request` and fix its base commit.

        Raises:
            UserError: no such folder, a file instead of a folder, uncommitted changes without
                `allow_dirty`, or another run works in it.
        """
        check_idea(request)
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path} does not exist: --project-path takes the folder of an existing project.")
        if not path.is_dir() or path.is_symlink():
            raise UserError(f"{path} is not a folder: --project-path takes the project's folder, not a file in it.")
        history = self._open(path)
        try:
            interrupted = self._interrupted()
            if interrupted is not None and interrupted.options.get("change") == request:
                self._follow_tests(bool(interrupted.options.get("run_tests")))
                self._continue(interrupted)  # the same change again: it resumes, as it was run
                return history.path
            if interrupted is not None:
                raise UserError(
                    f"The change {interrupted.options.get('change')!r} in {path} was interrupted; finish it first "
                    f"with: metagpt resume {path}"
                )
            created = history.open()
            dirty = [] if created else self._check_clean(history, allow_dirty)
            self.request = request
            options = {
                **self._options(None),
                "change": request,
                "run_tests": self.run_tests,
                "incremental": True,
            }
            # recorded before the first commit, so a kill from here on leaves a change that resumes
            journal = self._journal
            journal.start_run(request, options, self.cost_manager.max_budget)
            try:
                self._prepare_history(history, request, created or history.head() is None, bool(dirty))
            except UserError as exc:
                self._end("failed", str(exc))
                raise
            journal.update_run({**options, "base": self.base})
        except BaseException:
            self._release()
            raise
        return history.path

    def _follow_tests(self, run_tests: bool) -> None:
        """Test (or not) as the interrupted run did, whatever this command says: the replay must match."""
        if run_tests and not self.run_tests:
            self.hire([QaEngineer()])
        self.run_tests = run_tests

    def _open(self, path: Path) -> ChangeHistory:
        project = ProjectRepo.open(path, renderer=self.context.diagrams)
        history = ChangeHistory(project.path)
        project.history = history
        self._attach(project)
        return history

    def _interrupted(self) -> RunRecord | None:
        """The project's last run when it is a change that was killed or cancelled (it resumes)."""
        journal = self._journal
        journal.recover()
        last = journal.last_run()
        if last is None or not last.options.get("incremental") or last.status not in ("interrupted", "running"):
            return None
        return last

    @classmethod
    def resume_change(cls, path: Path | str, config: Config, investment: float | str | None = None) -> ChangeCompany:
        """The company of the change interrupted in `path`, hired again, ready to `run()`.

        Raises:
            UserError: the last run was not a change, or recorded no base commit (an older journal).
        """
        company = cls(config, workspace=Path(path).resolve().parent)
        company._open(Path(path))
        try:
            last = company._journal.last_run()
            if last is None or not last.options.get("incremental"):
                raise UserError(f"The last run in {path} was not a change to the project.")
            company.hire_for_change(run_tests=bool(last.options.get("run_tests")))
            company.invest(investment if investment is not None else last.investment or config.max_budget)
            company._continue(last)
        except BaseException:
            company._release()
            raise
        return company

    def _continue(self, last: RunRecord) -> None:
        """Rewind the tree to the change's base and replay it from the journal (see the module doc)."""
        options, path = last.options, self._repo.path
        tidy(path)
        history = self._change_history
        history.open()
        self.request = options["change"]
        base = options.get("base")
        if not base:  # killed before its base commit was made: the tree was checked clean, commit it
            dirty = [line for line in history.dirty() if not line[3:].startswith(OURS)]
            base = self._prepare_history(history, self.request, history.head() is None, bool(dirty))
            options = {**options, "base": base}
        reused = history.rewind(base)
        logger.info(f"Resuming the change {options['change']!r} from {base[:8]} ({len(reused)} commits to replay)")
        self.base, self.resumed_from = base, last.id
        journal = self._journal
        journal.start_run(self.request, options, self.cost_manager.max_budget, replay=True)
        runs = journal.runs_where(incremental=True, base=base, change=self.request)
        self.cost_manager.restore(journal.spent(runs=[run for run in runs if run != journal.run_id]))

    @staticmethod
    def _check_clean(history: ChangeHistory, allow_dirty: bool) -> list[str]:
        """The tree's changed files (ours aside); refused unless `allow_dirty`."""
        dirty = [line[3:] for line in history.dirty() if not line[3:].startswith(OURS)]
        if dirty and not allow_dirty:
            more = f" and {len(dirty) - 1} more" if len(dirty) > 1 else ""
            raise UserError(
                f"{history.path} has uncommitted changes ({dirty[0]}{more}): commit or stash them, "
                "or pass --allow-dirty to commit them as work in progress first."
            )
        return dirty

    def _prepare_history(self, history: ChangeHistory, request: str, created: bool, dirty: bool) -> str:
        """The commits before the change (the code as found, work in progress, our ignores); sets and returns `base`."""
        if created:
            history.commit_now(f"Existing code before the change: {request}")
        else:
            history.ignore_state()  # before anything is staged: the lock and the journal stay out
            if dirty:
                history.commit_now(f"Work in progress before {request}")
        history.untrack_report()  # its times and spend would be in every change's diff
        history.commit_now("Ignore MetaGPT's state, logs and report")
        base = history.head()
        if base is None:
            raise UserError(f'{history.path} holds no file to change; start a new project with: metagpt "<idea>"')
        self.base = base
        return base

    @property
    def _repo(self) -> ProjectRepo:
        """The project `open_project` (or `resume_change`) opened."""
        if self.project is None:
            raise UserError("Open the project first: ChangeCompany.open_project(path, request)")
        return self.project

    @property
    def _change_history(self) -> ChangeHistory:
        """The project's history, a `ChangeHistory` since `_open`."""
        history = self._repo.history
        assert isinstance(history, ChangeHistory)
        return history

    @property
    def _base_commit(self) -> str:
        """The change's base commit, fixed by `open_project` (or the replay)."""
        if self.base is None:
            raise UserError("Open the project first: ChangeCompany.open_project(path, request)")
        return self.base

    @property
    def _journal(self) -> Journal:
        """The project's journal, opened with the project (`_attach`)."""
        if self.context.journal is None:
            raise UserError("Open the project first: ChangeCompany.open_project(path, request)")
        return self.context.journal

    @property
    def qa_report(self):
        return self.code.qa if self.code is not None and self.code.qa is not None and self.code.qa.final else None

    def summary_lines(self) -> list[str]:
        """What the change did, for the CLI's summary."""
        stages = self.stages
        if stages is None or stages.record is None or self.base is None:
            return []
        record = stages.record
        lines = [f"{record.name}: {record.stem}.md, {len(record.commits)} commits on top of {self.base[:8]}"]
        if record.plan is not None:
            lines += [f"  {item.action} {item.path}" for item in record.plan.files]
        return lines

    @runs_as_current
    async def run(self, n_round: int | None = None, idea: str = "", send_to: str = "", auto_archive: bool = True):
        """Make the change (the rounds of a new project do not apply); the report is written at the end."""
        if self.project is None or self.base is None:
            raise UserError("Open the project first: ChangeCompany.open_project(path, request)")
        self.context.diagrams.start()
        try:
            await self._change()
        except asyncio.CancelledError:
            self._end("interrupted", "cancelled")
            raise
        except Exception as exc:
            if self.code is None or not self.code.stopped:
                self.published = await publish_project(self.context, self._report_message())
            self._end("failed", f"{type(exc).__name__}: {exc}")
            raise
        self.published = await publish_project(self.context, self._report_message())
        self._change_history.forget_interrupted()
        self._end("finished", "")
        return []

    def _report_message(self) -> str:
        record = self.stages.record if self.stages is not None else None
        return f"{record.name}: {LAST_COMMIT.lower()}" if record else LAST_COMMIT

    async def _change(self) -> None:
        config = self.context.config
        roles = {role.profile: role for role in self.env.roles.values()}
        self.stages = stages = Stages(self._repo, roles, self.request, self._base_commit, config)
        weak = config.resolved_api_type == "local"
        self.code = code = CodeStage(stages, config.edit_format, weak)
        if not stages.snapshot.has_documents:
            await stages.describe()
        record = await stages.write_request()
        bugfix = record.request.kind == "bugfix"
        if self.run_tests:
            await code.run_baseline()
        if not bugfix:
            await stages.edit_documents()
        await stages.write_plan()
        if self.run_tests and bugfix:
            await code.write_tests(bugfix=True)
            await code.reproduce()
        await code.apply_plan("the fix" if bugfix else "code")
        if self.run_tests:
            if not bugfix:
                await code.write_tests(bugfix=False)
            await code.test_and_fix(config.test_round_allowed)
        await self._summarise()

    async def _summarise(self) -> None:
        stages, history, code = self.stages, self._change_history, self.code
        assert stages is not None and stages.record is not None and code is not None
        record = stages.record
        changed = history.changed_files(self._base_commit)
        lines = ["Files changed since the base commit:", "", *[f"- `{name}`" for name in changed]]
        qa = self.qa_report
        if qa is not None:
            lines += ["", f"Tests: {qa.final}"]
            regressions = code.regressions(qa.runs[-1]) if qa.runs else []
            lines += [f"- regression: `{name}`" for name in regressions]
            lines += [f"- {fix}" for fix in qa.fixes]
            self._repo.write("docs/qa_report.md", qa.to_markdown(), reserved=True)
        record.result = "\n".join(lines)
        self._repo.write(f"{record.stem}.diff", history.diff(self._base_commit), reserved=True)
        stages.save_record()
        await stages.commit("summary")
        logger.info(f"{record.name}: done, {len(changed)} files changed")
