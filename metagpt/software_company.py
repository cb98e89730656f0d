"""`SoftwareCompany`: a `Team` that works in a project folder under the workspace.

company = SoftwareCompany()
company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
company.invest(3.0)
company.start_project("Write a command-line snake game")
await company.run(n_round=5)

Every model call is journaled in the project (`.metagpt/state.db`), so an interrupted run
resumes where it stopped, paying for no call twice:

company = SoftwareCompany.resume("workspace/cli_snake_game")
await company.run()
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from metagpt.configs.settings import Config
from metagpt.const import STATE_DB, STATE_DIR
from metagpt.context import Context, runs_as_current
from metagpt.exceptions import MetaGPTError, UserError
from metagpt.journal import Journal
from metagpt.journal.lock import ProjectBusyError, ProjectLock
from metagpt.journal.recovery import tidy
from metagpt.project_repo import STAGING_MARK, ProjectRepo
from metagpt.report import Published, publish_project
from metagpt.roles.spec import build_role, role_spec
from metagpt.schema import Message
from metagpt.team import Team, check_idea

if TYPE_CHECKING:
    from metagpt.roles.qa_engineer import QaReport

DEFAULT_ROUNDS = 5


class NothingToResume(MetaGPTError):
    """The project's last run finished: there is nothing to resume (not a failure)."""

    exit_code = 0


class SoftwareCompany(Team):
    """The software company: its roles write their documents and code into one project folder."""

    def __init__(self, config: Config | None = None, context: Context | None = None, workspace: Path | None = None):
        super().__init__(context=context, config=config)
        self.workspace = workspace or self.context.config.resolve_workspace()
        self.published: Published | None = None
        """The report and the diagrams' fate, once a run has ended."""
        self._lock: ProjectLock | None = None
        self._send_to = ""
        self._n_round: int | None = None
        self.resumed_from: str | None = None
        """The id of the run this one resumes, when it does."""

    @property
    def project(self) -> ProjectRepo | None:
        return self.context.project

    @property
    def journal(self) -> Journal | None:
        return self.context.journal

    # MetaGPT's SoftwareCompany also creates the folder here, and returns it.
    def start_project(self, idea: str, send_to: str = "", project_name: str | None = None) -> Path:  # type: ignore[override]
        """Create the project folder and hand the idea to the roles (all, or `send_to`)."""
        check_idea(idea)  # before a folder is created for it
        sweep_staging(self.workspace)
        project = ProjectRepo(
            self.workspace, project_name or idea, fixed=bool(project_name), renderer=self.context.diagrams, staged=True
        )
        self._attach(project)
        self._send_to = send_to
        self.run_project(idea, send_to=send_to)
        journal = self.context.journal
        if journal is None:  # pragma: no cover - `_attach` opened it
            raise RuntimeError("the project's journal is not open")
        # recorded before the folder gets its name, so a folder under that name always resumes
        journal.start_run(idea, self._options(None), self.cost_manager.max_budget)
        project.publish()
        project.history.init()
        return project.path

    @classmethod
    def resume(
        cls, path: Path | str, config: Config | None = None, investment: float | str | None = None
    ) -> SoftwareCompany:
        """The company of an interrupted run in `path`, hired and briefed again, ready to `run()`.

        The idea, roles and rounds come from the project's journal; the money spent so far is
        counted against `investment` (default: the interrupted run's). Calls the journal
        answered before are answered from it again, at no cost.

        Raises:
            UserError: `path` is not a project with a journal, or another process runs it.
            NothingToResume: its last run finished.
        """
        path = Path(path)
        if not (path / STATE_DB).is_file():
            raise UserError(
                f"{path} has no journal ({STATE_DB}): it is not a MetaGPT project folder, or was made before "
                'runs were journaled. Start a new run with: metagpt "<idea>"'
            )
        config = config or Config.default()
        company = cls(config, workspace=path.resolve().parent)
        project = ProjectRepo.open(path, renderer=company.context.diagrams)
        company._attach(project)
        journal = company.context.journal
        assert journal is not None
        first, last = journal.first_run(), journal.last_run()
        if first is None or last is None:
            raise UserError(f'The journal of {path} records no run; start a new one with: metagpt "<idea>"')
        if last.status == "finished":
            company._release()
            raise NothingToResume(f"The run in {path} finished; nothing to resume.")
        options = last.options
        if "roles" not in options and not options.get("incremental"):
            company._release()
            raise UserError(
                f"{path} holds a run of `metagpt agent` or `metagpt interpret`, which does not resume (its tools "
                "ran code whose effects cannot be replayed); start it again with the same command."
            )
        if options.get("incremental"):
            company._release()
            raise UserError(
                f"The last run in {path} was a change (--inc); it resumes as one: metagpt resume {path} "
                "(metagpt.resume.resume_project)"
            )
        project.fixed = bool(options.get("project_name"))
        tidy(project.path)
        try:
            roles = [build_role(spec) for spec in options.get("roles", [])]
        except UserError:
            company._release()
            raise
        company.hire(roles)
        company.invest(investment if investment is not None else last.investment or config.max_budget)
        company._n_round = options.get("n_round")
        company._send_to = options.get("send_to", "")
        company.resumed_from = last.id
        project.history.init()
        company.run_project(first.idea, send_to=company._send_to)
        journal.start_run(first.idea, options, company.cost_manager.max_budget, replay=True)
        company.cost_manager.restore(journal.spent())
        return company

    def _attach(self, project: ProjectRepo) -> None:
        """Make `project` this company's: take its lock and journal into it."""
        lock = ProjectLock(project.path / STATE_DIR)
        lock.acquire()
        self._lock = lock
        self.context.project = project
        journal = Journal(lambda: project.path / STATE_DB)
        project.journal = journal
        self.context.journal = journal

    def _default_storage(self) -> Path:
        """`serialize()` saves into the project's state folder, once there is a project."""
        if self.project is not None:
            return self.project.path / STATE_DIR / "team"
        return super()._default_storage()

    def _release(self) -> None:
        if self.project is not None:
            self.project.history.put_back()  # what code we ran changed in .git/config or attributes
        if self.context.journal is not None:
            self.context.journal.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _options(self, n_round: int | None) -> dict[str, Any]:
        project = self.project
        return {
            "roles": [role_spec(role) for role in self.env.roles.values()],
            "n_round": n_round,
            "send_to": self._send_to,
            "project_name": project.path.name if project is not None and project.fixed else None,
        }

    def summary_lines(self) -> list[str]:
        """Lines the CLI adds to its summary of the run (a change lists what it changed)."""
        return []

    @property
    def qa_report(self) -> QaReport | None:
        """The QA engineer's report, once it has one."""
        from metagpt.roles.qa_engineer import QaReport

        for message in reversed(self.env.history.get()):
            if isinstance(message.instruct_content, QaReport):
                return message.instruct_content
        return None

    async def _after_round(self, published: list[Message]) -> None:
        """Commit what the round wrote, named after the steps taken (PRD, design, tasks...)."""
        if self.project is None or not published:
            return
        steps = dict.fromkeys(f"{m.role}: {str(m.cause_by).rsplit('.', 1)[-1]}" for m in published)
        await self.project.commit("; ".join(steps))

    @runs_as_current
    async def run(
        self, n_round: int | None = None, idea: str = "", send_to: str = "", auto_archive: bool = True
    ) -> list[Message]:
        """Run the team (`n_round` rounds: 5, or the resumed run's); when the run ends (also on
        an error such as `NoMoneyException`), the diagrams are rendered and `index.html` is
        written (see `published`), and the journal records how it ended."""
        if idea:
            self.start_project(idea, send_to=send_to)
        n_round = n_round or self._n_round or DEFAULT_ROUNDS
        journal = self.journal
        if journal is not None and journal.run_id is None:
            journal.start_run(self.idea, self._options(n_round), self.cost_manager.max_budget)
        elif journal is not None and self.resumed_from is None:
            journal.update_run(self._options(n_round), self.cost_manager.max_budget)
        if self.project is not None:
            self.context.diagrams.start()  # the browser starts while the roles work
            if self.resumed_from is not None:
                # What the interrupted run wrote after its last commit gets a commit of its own, so
                # each later commit holds only the files of the stage it is labelled with.
                await self.project.commit("Resumed: files the interrupted run wrote after its last commit")
        self._arm_experience()
        try:
            history = await super().run(n_round=n_round, auto_archive=auto_archive)
            if self.stopped_by is not None:  # the command line ends such a run with its exit code
                raise self.stopped_by
        except asyncio.CancelledError:
            self._end("interrupted", "cancelled")
            raise
        except Exception as exc:  # not on cancellation: an interrupted run ends at once
            self.published = await publish_project(self.context)
            self._end("failed", f"{type(exc).__name__}: {exc}")
            raise
        self.published = await publish_project(self.context)
        self._learn()
        self._end("finished", "")
        return history

    def _arm_experience(self) -> None:
        """With the experience pool on and no QA engineer hired, no test will run on the code: the
        Engineer's steps are then never answered from the pool (they make their calls)."""
        session = self.context.experience
        if session is None:
            return
        from metagpt.roles.qa_engineer import QaEngineer

        if not any(isinstance(role, QaEngineer) for role in self.env.roles.values()):
            session.no_check["write_code"] = "no QA engineer runs the tests on this run's code (add --run-tests)"

    def _learn(self) -> None:
        """With the experience pool on: store what QA's passing tests confirmed, count what was used."""
        session = self.context.experience
        if session is None:
            return
        from metagpt.experience.learn import learn_from_qa
        from metagpt.roles.engineer import CodeSummary

        contents = (m.instruct_content for m in reversed(self.env.history.get()))
        summary = next((c for c in contents if isinstance(c, CodeSummary)), None)
        journal = self.journal
        if summary is not None and self.project is not None:
            db, run_id = (journal.db, journal.run_id) if journal is not None else (None, None)
            learn_from_qa(session, self.qa_report, summary.package, self.project.path, db, run_id)
        report = self.qa_report
        if session.reused and (report is None or not report.runs):
            why = f"QA: tests {report.final}" if report is not None else "QA did not report"
            logger.warning(f"experience pool: {session.reused} step(s) answered from the pool, and no test ran on "
                           f"them ({why})")  # fmt: skip
        session.flush()

    def _end(self, status: str, reason: str) -> None:
        if self.journal is not None and self.journal.run_id is not None:
            self.journal.end_run(status, reason)
        self._release()


def sweep_staging(workspace: Path) -> None:
    """Remove staged project folders whose process died before giving them a name.

    Such a folder holds only the start of a run (no call is made before `publish`), so nothing
    is lost; a folder whose lock is still held belongs to a live run and is left alone.
    """
    try:
        candidates = [p for p in Path(workspace).iterdir() if p.name.startswith(".") and STAGING_MARK in p.name]
    except OSError:
        return
    for folder in candidates:
        if folder.is_symlink() or not folder.is_dir() or _alive(folder.name.rpartition(STAGING_MARK)[2]):
            continue
        lock = ProjectLock(folder / STATE_DIR)
        try:
            lock.acquire()
        except (ProjectBusyError, OSError):
            continue
        lock.release()
        shutil.rmtree(folder, ignore_errors=True)
        logger.debug(f"removed {folder}: its run was killed while it was being set up")


def _alive(owner: str) -> bool:
    """Whether the process named in a staging folder (`<pid>-<random>`) may still be setting it up."""
    pid = owner.partition("-")[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True
