from metagpt.actions.design_api import SystemDesign, WriteDesign
from metagpt.actions.document import Document
from metagpt.actions.write_prd import WritePRD
from metagpt.roles.role import Role


class Architect(Role):
    """Designs the system for a PRD; names the Python package and the project folder."""

    name: str = "Bob"
    profile: str = "Architect"
    goal: str = "Design a concise, usable, complete Python system"
    constraints: str = "Keep the architecture simple and use suitable open-source libraries"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_actions([WriteDesign])
        self._watch([WritePRD])

    def on_document(self, document: Document) -> None:
        if isinstance(document, SystemDesign) and self.project is not None:
            self.project.adopt_name(document.python_package_name)
