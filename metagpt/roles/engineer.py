from loguru import logger

from metagpt.actions.design_api import SystemDesign, WriteDesign
from metagpt.actions.project_management import Tasks, WriteTasks
from metagpt.actions.write_code import WriteCode
from metagpt.roles.role import Role
from metagpt.schema import Message


def code_path(name: str, package: str) -> str:
    """A file's path inside the package folder; models often repeat the package name in front."""
    prefix = f"{package}/"
    return name[len(prefix) :] if name.startswith(prefix) and len(name) > len(prefix) else name


class Engineer(Role):
    """Writes every file of the task list, in order, each with the files before it as context."""

    name: str = "Alex"
    profile: str = "Engineer"
    goal: str = "Write elegant, readable, extensible, efficient code"
    constraints: str = "The code must be PEP8-compliant, modular, and follow the design exactly"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_actions([WriteCode])
        self._watch([WriteTasks])

    def _latest(self, action: type, model: type):
        """The newest document of `model` caused by `action` that this role has seen."""
        for message in reversed(self.rc.memory.get_by_action(action)):
            if isinstance(message.instruct_content, model):
                return message
        return None

    async def _act(self) -> Message:
        tasks_msg = self._latest(WriteTasks, Tasks)
        design_msg = self._latest(WriteDesign, SystemDesign)
        if tasks_msg is None or design_msg is None:
            raise RuntimeError("Engineer needs both the system design and the task list")
        design: SystemDesign = design_msg.instruct_content
        tasks: Tasks = tasks_msg.instruct_content
        package = design.python_package_name
        files = list(dict.fromkeys(code_path(name, package) for name in [*tasks.task_list, *design.file_list]))
        written: dict[str, str] = {}
        for filename in files:
            logger.info(f"{self.profile} ({self.name}): writing {filename} ({len(written) + 1}/{len(files)})")
            code = await self.rc.todo.run(filename, design_msg.content, tasks_msg.content, written)
            written[filename] = code
            if self.project is not None:
                self.project.write(f"{package}/{filename}", code)
        listing = "\n".join(f"- {package}/{name}" for name in written)
        message = Message(
            f"Wrote {len(written)} files:\n{listing}", role=self.profile, cause_by=WriteCode, sent_from=self.name
        )
        self.rc.memory.add(message)
        return message
