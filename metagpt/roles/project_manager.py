from metagpt.actions.design_api import WriteDesign
from metagpt.actions.document import Document
from metagpt.actions.project_management import Tasks, WriteTasks
from metagpt.roles.role import Role


class ProjectManager(Role):
    """Breaks the design into ordered tasks and lists the project's requirements."""

    name = "Eve"
    profile = "Project Manager"
    goal = "Break the design into tasks in dependency order and name the packages they need"
    constraints = "Cover every file of the design"
    action_classes = (WriteTasks,)
    watch_actions = (WriteDesign,)

    def on_document(self, document: Document) -> None:
        if isinstance(document, Tasks) and self.project is not None:
            lines = [line.strip() for line in document.required_python_third_party_packages if line.strip()]
            self.project.write("requirements.txt", "".join(f"{line}\n" for line in lines))
