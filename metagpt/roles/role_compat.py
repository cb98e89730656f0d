"""The names MetaGPT 0.1-0.8 scripts call on a `Role`, kept apart from the loop itself.

`Role` inherits `MetaGPTRoleNames`; every method here is a thin spelling of the loop's own steps
(`handle` is `run`, `think` is `_observe` + `_think`, `subscribe` is `set_addresses`, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from metagpt.actions.action_output import ActionOutput
from metagpt.schema import any_to_str
from metagpt.utils.common import any_to_name


class RoleSetting(str):
    """`role._setting`: reads as `Alice(SimpleCoder)`, and has the fields 0.2-0.5 scripts read."""

    name: str
    profile: str
    goal: str
    constraints: str
    desc: str

    def __new__(cls, name: str, profile: str, goal: str = "", constraints: str = "", desc: str = "") -> RoleSetting:
        setting = super().__new__(cls, f"{name}({profile})")
        setting.name, setting.profile, setting.goal = name, profile, goal
        setting.constraints, setting.desc = constraints, desc
        return setting


class MetaGPTRoleNames:
    """Mixin of `Role`: MetaGPT's other names for its steps. Uses only `Role`'s public loop."""

    _addresses: set[str] | None = None

    # -- the underscored names of 0.1-0.5 ---------------------------------------------------------

    @property
    def _rc(self) -> Any:
        return self.rc  # type: ignore[attr-defined]

    @property
    def _setting(self) -> RoleSetting:
        """`Alice(SimpleCoder)`, also with `.name`, `.profile`, `.goal`, `.constraints`, `.desc`."""
        return RoleSetting(self.name, self.profile, self.goal, self.constraints, self.desc)  # type: ignore[attr-defined]

    @property
    def _actions(self) -> list[Any]:
        return self.actions  # type: ignore[attr-defined]

    @property
    def _states(self) -> list[str]:
        return self.states  # type: ignore[attr-defined]

    # -- addresses (0.6 called them subscription) -------------------------------------------------

    def set_addresses(self, addresses: Iterable[str]) -> None:
        """Replace the names `send_to` must name to reach this role (default: class path and name);
        the role's environment, if any, routes by the new ones."""
        self._addresses = {any_to_str(a) for a in addresses}
        env = self.rc.env  # type: ignore[attr-defined]
        if env is not None and hasattr(env, "set_addresses"):
            env.set_addresses(self, self._addresses)

    def subscribe(self, tags: Iterable[str]) -> None:
        """MetaGPT 0.6's name of `set_addresses`."""
        self.set_addresses(tags)

    @property
    def subscription(self) -> set[str]:
        return self.addresses  # type: ignore[attr-defined]

    # -- actions ----------------------------------------------------------------------------------

    def init_actions(self, actions: Iterable[Any]) -> None:
        """MetaGPT 0.5's name of `set_actions`."""
        self.set_actions(actions)  # type: ignore[attr-defined]

    @property
    def action_count(self) -> int:
        return len(self.actions)  # type: ignore[attr-defined]

    @property
    def action_description(self) -> str:
        """What the role will do next (or can do): the todo's `desc`, else its class name."""
        todo = self.rc.todo  # type: ignore[attr-defined]
        if todo is not None:
            return todo.desc or any_to_name(todo)
        actions = self.actions  # type: ignore[attr-defined]
        return any_to_name(actions[0]) if actions else ""

    def is_watch(self, caused_by: Any) -> bool:
        """Whether messages caused by this action (class, instance or key) wake the role."""
        return any_to_str(caused_by) in self.rc.watch  # type: ignore[attr-defined]

    # -- the loop under other names ---------------------------------------------------------------

    async def think(self) -> Any:
        """Observe the buffered messages and choose the next action; returns it (or None)."""
        with self._running():  # type: ignore[attr-defined]
            await self._observe()  # type: ignore[attr-defined]
            await self._think()  # type: ignore[attr-defined]
            return self.rc.todo  # type: ignore[attr-defined]

    async def act(self) -> ActionOutput:
        """Run the chosen action; its answer as an `ActionOutput` (content and instruct_content)."""
        with self._running():  # type: ignore[attr-defined]
            message = await self._act()  # type: ignore[attr-defined]
        return ActionOutput(content=message.content, instruct_content=message.instruct_content)

    async def handle(self, message: Any) -> Any:
        """MetaGPT 0.1-0.4's name of `run(message)`."""
        return await self.run(message)  # type: ignore[attr-defined]

    def recv(self, message: Any) -> None:
        """MetaGPT 0.1-0.4's name of `put_message`."""
        self.put_message(message)  # type: ignore[attr-defined]
