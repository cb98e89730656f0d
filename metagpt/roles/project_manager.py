from metagpt.actions.design_api import WriteDesign
from metagpt.actions.document import Document
from metagpt.actions.project_management import Tasks, WriteTasks
from metagpt.roles.role import Role


class ProjectManager(Role):
    """Breaks the design into ordered tasks and lists the project's requirements."""

    name: str = "Eve"
    profile: str = "Project Manager"
    goal: str = "Break the design into tasks in dependency order and name the packages they need"
    constraints: str = "Cover every file of the design"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_actions([WriteTasks])
        self._watch([WriteDesign])

    def on_document(self, document: Document) -> None:
        if isinstance(document, Tasks) and self.project is not None:
            self.project.save_requirements(document.required_python_third_party_packages)
