"""`Environment`: where roles publish messages and run, round by round."""

from __future__ import annotations

from collections.abc import Iterable

from loguru import logger

from metagpt.context import Context
from metagpt.memory import Memory
from metagpt.roles.role import Role
from metagpt.schema import Message, any_to_str
from metagpt.utils.concurrency import gather_or_cancel


class Environment:
    """Holds the roles and the shared history; delivers each message to the roles it is for.

    A message goes to every role when it is sent to `<all>` (the default), else to the roles
    whose address is among its recipients: its class path and name (MetaGPT 0.6+'s
    `role.addresses`), its profile too, or what `set_addresses` gave it. Each role then decides
    in `_observe` whether it reacts (it watches the cause, or it is named as a recipient).

    `history` holds every published message (a `Memory`, as in MetaGPT 0.8; 0.6-0.7 kept a
    debug transcript string, which `str(env.history)` gives).
    """

    def __init__(self, context: Context | None = None, desc: str = "") -> None:
        self.roles: dict[str, Role] = {}
        self.history = Memory()
        self._addresses: dict[Role, set[str]] = {}
        """Addresses given with `set_addresses` (the environment's side of MetaGPT's `member_addrs`)."""
        self._context = context
        self.desc = desc

    @property
    def context(self) -> Context:
        """Config, budget and provider shared by the roles: a default `Context` unless one was given."""
        if self._context is None:
            self._context = Context()
        return self._context

    @context.setter
    def context(self, context: Context) -> None:
        self.use_context(context)

    def use_context(self, context: Context) -> None:
        """Share `context` with this environment and every role already in it."""
        self._context = context
        for role in self.roles.values():
            role.set_context(context)

    def add_role(self, role: Role) -> None:
        """Add `role`; it shares this environment's context, unless it brought its own and the
        environment was given none."""
        role.set_env(self)
        if self._context is not None or not role.has_context:
            role.set_context(self.context)
        self.roles[role.name] = role

    def add_roles(self, roles: Iterable[Role]) -> None:
        for role in roles:
            self.add_role(role)

    def get_roles(self) -> dict[str, Role]:
        return self.roles

    def get_role(self, name: str) -> Role | None:
        """The role with this name, else the first with this profile (MetaGPT keyed roles by profile)."""
        if name in self.roles:
            return self.roles[name]
        return next((role for role in self.roles.values() if role.profile == name), None)

    def role_names(self) -> list[str]:
        return list(self.roles)

    def get_addresses(self, role: Role) -> set[str]:
        """The addresses this environment delivers `role`'s messages by (empty for a stranger)."""
        if role in self._addresses:
            return set(self._addresses[role])
        return role.addresses if role in self.roles.values() else set()

    def set_addresses(self, role: Role, addresses: Iterable[str]) -> None:
        """Deliver to `role` only the messages sent to one of `addresses`."""
        self._addresses[role] = {any_to_str(address) for address in addresses}

    get_subscription = get_addresses
    """MetaGPT 0.6's name of `get_addresses`."""
    set_subscription = set_addresses

    def _routes(self, role: Role) -> set[str]:
        return set(self._addresses[role]) if role in self._addresses else role._routes

    def publish_message(self, message: Message, peekable: bool = True) -> bool:
        """Record `message` and deliver it to each role it is addressed to."""
        self.history.add(message)
        delivered = False
        for role in self.roles.values():
            if message.is_for(self._routes(role)):
                role.put_message(message)
                delivered = True
        if not delivered:
            logger.warning(
                f"No role is addressed by the message from {message.sent_from or message.role}: {message.send_to}"
            )
        return delivered

    async def run(self, k: int = 1) -> None:
        """Run `k` rounds; in each, every role with something to react to runs concurrently."""
        for _ in range(k):
            await gather_or_cancel(role.run() for role in self.roles.values() if not role.is_idle)

    @property
    def is_idle(self) -> bool:
        return all(role.is_idle for role in self.roles.values())
