"""The boss's requirement: the action every team's first message is caused by."""

from metagpt.actions.action import Action


class UserRequirement(Action):
    """Marks the user's requirement; it never runs, roles watch it to start working."""


BossRequirement = UserRequirement
"""The name MetaGPT 0.3 used."""
