from metagpt.actions.action import UserRequirement
from metagpt.actions.write_prd import WritePRD
from metagpt.roles.role import Role


class ProductManager(Role):
    """Turns the boss's requirement into a PRD."""

    name = "Alice"
    profile = "Product Manager"
    goal = "Efficiently create a successful product"
    constraints = "Keep the product simple and the PRD concise"
    action_classes = (WritePRD,)
    watch_actions = (UserRequirement,)
