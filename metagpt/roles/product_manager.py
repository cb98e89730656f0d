from metagpt.actions.add_requirement import UserRequirement
from metagpt.actions.write_prd import WritePRD
from metagpt.roles.role import Role


class ProductManager(Role):
    """Turns the boss's requirement into a PRD."""

    name: str = "Alice"
    profile: str = "Product Manager"
    goal: str = "Efficiently create a successful product"
    constraints: str = "Keep the product simple and the PRD concise"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_actions([WritePRD])
        self._watch([UserRequirement])
