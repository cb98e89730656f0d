"""`Team`: roles in one environment, with a budget, run round by round on an idea.

team = Team()
team.hire([SimpleCoder(), SimpleTester(), SimpleReviewer()])
team.invest(3.0)
team.run_project("write a function that calculates the product of a list")
await team.run(n_round=5)
"""

from __future__ import annotations

import warnings
from pathlib import Path

from loguru import logger

from metagpt.actions.add_requirement import UserRequirement
from metagpt.configs.settings import Config, check_sendable_text
from metagpt.context import Context, runs_as_current
from metagpt.cost_manager import CostManager, parse_money
from metagpt.environment import Environment
from metagpt.exceptions import HumanInputClosed, HumanStopped, MetaGPTError, NoMoneyException, UserError
from metagpt.roles.role import Role
from metagpt.schema import Message


def check_idea(idea: str) -> None:
    """Refuse an empty requirement, saying what to write instead."""
    if not idea.strip():
        raise UserError("The idea is empty: describe what to build, e.g. 'a command-line snake game'.")
    check_sendable_text(idea, "The idea")


class Team:
    """A team of roles with its own budget; the user is the boss and the investor.

    Args:
        context: config, budget and provider shared by the roles; built from `config` (or the
            default configuration) when omitted. Two teams never share a budget.
        roles: hired at once.
        investment: the budget in dollars, as `invest` sets it.
        idea: the requirement `run` starts with when it is given none.
        env_desc: a description of the environment, for roles that read it.
        env: an environment to run in (MetaGPT 0.6+); its roles are kept, and its context is the
            team's unless `context` is given.
    """

    def __init__(
        self,
        context: Context | None = None,
        config: Config | None = None,
        roles: list[Role] | None = None,
        investment: float | str | None = None,
        idea: str = "",
        env_desc: str = "",
        env: Environment | None = None,
    ):
        if env is not None:
            self.context = context or (env.context if config is None else Context(config))
            env.use_context(self.context)
            self.env = env
            self.env.desc = env_desc or env.desc
        else:
            self.context = context or Context(config)
            self.env = Environment(self.context, desc=env_desc)
        self.idea = idea
        self.stopped_by: MetaGPTError | None = None
        """Why the last `run` ended early because of a human role (`HumanStopped`, `HumanInputClosed`)."""
        if roles:
            self.hire(roles)
        if investment is not None:
            self.invest(investment)

    @property
    def environment(self) -> Environment:
        return self.env

    @property
    def cost_manager(self) -> CostManager:
        return self.context.cost_manager

    @property
    def investment(self) -> float:
        return self.cost_manager.max_budget

    def hire(self, roles: list[Role]) -> None:
        """Add roles; they share this team's config, budget and model."""
        self.env.add_roles(roles)

    def invest(self, investment: float | str) -> None:
        """Set the budget in dollars (`3.0` or `"$3.0"`); the run stops before spending more."""
        self.cost_manager.max_budget = parse_money(investment)
        logger.debug(f"Investment: ${self.cost_manager.max_budget}")

    def run_project(self, idea: str, send_to: str = "") -> None:
        """Publish the idea as the user's requirement, to everyone or to one role (`send_to`)."""
        check_idea(idea)
        self.idea = idea
        message = Message(idea, role="Human", cause_by=UserRequirement, sent_from="Human", send_to=send_to or None)
        self.env.publish_message(message, peekable=False)

    def start_project(self, idea: str, send_to: str = "") -> None:
        """Deprecated name of `run_project`."""
        warnings.warn("Team.start_project is deprecated; use run_project", DeprecationWarning, stacklevel=2)
        self.run_project(idea, send_to=send_to)

    def _check_balance(self) -> None:
        cost = self.cost_manager
        if cost.total_cost >= cost.max_budget:
            raise NoMoneyException(cost.total_cost, cost.max_budget, 0.0)

    @runs_as_current  # MetaGPT 0.6's `CONFIG.git_repo` is this company's project while it runs
    async def run(
        self, n_round: int = 3, idea: str = "", send_to: str = "", auto_archive: bool = True
    ) -> list[Message]:
        """Run at most `n_round` rounds, stopping early when every role is idle.

        Raises `NoMoneyException` when the budget is spent (checked before each round and before
        every model call, so spend never exceeds the investment). Returns the message history.
        A human role whose person typed `exit` or whose input ran out ends the run: one line is
        logged, `stopped_by` holds why, and the history so far is returned.
        """
        if idea or (self.idea and not self.env.history.count()):
            self.run_project(idea or self.idea, send_to=send_to)
        self.stopped_by = None
        for round_no in range(1, n_round + 1):
            if self.env.is_idle:
                logger.debug("All roles are idle.")
                break
            self._check_balance()
            logger.debug(f"round {round_no}, spent ${self.cost_manager.total_cost:.4f}")
            before = self.env.history.count()
            try:
                await self.env.run()
            except (HumanStopped, HumanInputClosed) as stop:  # the person left: the run ends, nothing is lost
                logger.warning(f"Stopped: {stop}")
                self.stopped_by = stop
                break
            await self._after_round(self.env.history.get()[before:])
        return self.env.history.get()

    async def _after_round(self, published: list[Message]) -> None:
        """Hook run after each round with the messages published in it."""

    def _default_storage(self) -> Path:
        return self.context.config.resolve_workspace() / "storage" / "team"

    def serialize(self, stg_path: Path | str | None = None) -> Path:
        """Save the team (roles, their memories, the history, the budget and what it spent) to
        `stg_path/team.json`, atomically; returns the file. Default: `workspace/storage/team`."""
        from metagpt.team_state import save_team

        return save_team(self, Path(stg_path) if stg_path is not None else self._default_storage())

    @classmethod
    def deserialize(cls, stg_path: Path | str, context: Context | None = None) -> Team:
        """The team `serialize` saved in `stg_path`, ready to `run` on from where it stopped.

        Raises:
            UserError: nothing saved there, or a role's class cannot be imported.
        """
        from metagpt.team_state import load_team

        return load_team(cls, Path(stg_path), context=context)
