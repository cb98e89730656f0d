"""`SoftwareCompany`: hire roles, invest, start a project, run it.

company = SoftwareCompany()
company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
company.invest(3.0)
company.start_project("Write a command-line snake game")
await company.run(n_round=5)
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from metagpt.actions.action import UserRequirement
from metagpt.config import Config
from metagpt.context import Context
from metagpt.environment import Environment
from metagpt.exceptions import UserError
from metagpt.project_repo import ProjectRepo
from metagpt.roles.role import Role
from metagpt.schema import Message, any_to_str


class SoftwareCompany:
    """A company of roles with its own budget; the user is the boss and the investor."""

    def __init__(self, config: Config | None = None, context: Context | None = None, workspace: Path | None = None):
        self.context = context or Context(config)
        self.environment = Environment()
        self.workspace = workspace or self.context.config.resolve_workspace()
        self.idea = ""

    @property
    def cost_manager(self):
        return self.context.cost_manager

    @property
    def project(self) -> ProjectRepo | None:
        return self.context.project

    def hire(self, roles: list[Role]) -> None:
        """Add roles; they share this company's config, budget and model."""
        for role in roles:
            role.set_context(self.context)
        self.environment.add_roles(roles)

    def invest(self, investment: float | str) -> None:
        """Set the budget in dollars (`3.0` or `"$3.0"`); the run stops before spending more."""
        try:
            amount = float(str(investment).strip().lstrip("$"))
        except ValueError:
            raise UserError(f"Investment {investment!r} is not an amount of dollars, e.g. 3.0.") from None
        if amount <= 0:
            raise UserError(f"Investment must be positive, got {amount}.")
        self.cost_manager.max_budget = amount

    def start_project(self, idea: str, project_name: str | None = None) -> Path:
        """Create the project folder and hand the idea to the roles watching the boss."""
        if not idea.strip():
            raise UserError("The idea is empty: describe what to build, e.g. 'a command-line snake game'.")
        self.idea = idea
        self.context.project = ProjectRepo(self.workspace, project_name or idea, fixed=bool(project_name))
        self.environment.publish_message(
            Message(content=idea, role="user", cause_by=any_to_str(UserRequirement), sent_from="Boss")
        )
        return self.context.project.path

    async def run(self, n_round: int = 5) -> list[Message]:
        """Run at most `n_round` rounds, stopping early when every role is idle.

        Raises `NoMoneyException` (before any request it could not pay for) when the budget is
        spent; everything written so far stays in the project folder.
        """
        for round_no in range(1, n_round + 1):
            if self.environment.is_idle:
                break
            logger.debug(f"round {round_no}, spent ${self.cost_manager.total_cost:.4f}")
            await self.environment.run()
        return self.environment.history.get()
