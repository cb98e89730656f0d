"""`SoftwareCompany`: a `Team` that works in a project folder under the workspace.

company = SoftwareCompany()
company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
company.invest(3.0)
company.start_project("Write a command-line snake game")
await company.run(n_round=5)
"""

from __future__ import annotations

from pathlib import Path

from metagpt.config import Config
from metagpt.context import Context
from metagpt.project_repo import ProjectRepo
from metagpt.report import Published, publish_project
from metagpt.schema import Message
from metagpt.team import Team, check_idea


class SoftwareCompany(Team):
    """The software company: its roles write their documents and code into one project folder."""

    def __init__(self, config: Config | None = None, context: Context | None = None, workspace: Path | None = None):
        super().__init__(context=context, config=config)
        self.workspace = workspace or self.context.config.resolve_workspace()
        self.published: Published | None = None
        """The report and the diagrams' fate, once a run has ended."""

    @property
    def project(self) -> ProjectRepo | None:
        return self.context.project

    def start_project(self, idea: str, send_to: str = "", project_name: str | None = None) -> Path:
        """Create the project folder and hand the idea to the roles (all, or `send_to`)."""
        check_idea(idea)  # before a folder is created for it
        self.context.project = ProjectRepo(
            self.workspace, project_name or idea, fixed=bool(project_name), renderer=self.context.diagrams
        )
        self.context.project.history.init()
        self.run_project(idea, send_to=send_to)
        return self.context.project.path

    @property
    def qa_report(self):
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

    async def run(
        self, n_round: int = 5, idea: str = "", send_to: str = "", auto_archive: bool = True
    ) -> list[Message]:
        """Run the team; when the run ends (also on an error such as `NoMoneyException`), the
        diagrams are rendered and `index.html` is written (see `published`)."""
        if idea:
            self.start_project(idea, send_to=send_to)
        if self.project is not None:
            self.context.diagrams.start()  # the browser starts while the roles work
        try:
            history = await super().run(n_round=n_round, auto_archive=auto_archive)
        except Exception:  # not on cancellation: an interrupted run ends at once
            self.published = await publish_project(self.context)
            raise
        self.published = await publish_project(self.context)
        return history
