"""`TutorialAssistant`: writes a tutorial's directory, then each section, into the workspace.

As MetaGPT 0.5-0.8's off-the-shelf role: `await TutorialAssistant(language="English").run("MySQL")`
asks for the directory, adds one `WriteContent` per section, writes them in order and saves the
whole tutorial as `<workspace>/tutorial_docx/<time>/<title>.md`; the returned message's content
is that file's path.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from metagpt.actions.write_tutorial import WriteContent, WriteDirectory
from metagpt.roles.role import Role, RoleReactMode
from metagpt.schema import Message
from metagpt.utils.atomic import write_atomic

TUTORIAL_DIR = "tutorial_docx"
"""Folder under the workspace that receives the tutorials."""


class TutorialAssistant(Role):
    """Writes a markdown tutorial on the topic it is given, section by section."""

    name: str = "Stitch"
    profile: str = "Tutorial Assistant"
    goal: str = "Generate tutorial documents"
    constraints: str = "Strictly follow Markdown's syntax, with neat and standardized layout"
    language: str = "English"
    topic: str = ""
    main_title: str = ""
    total_content: str = ""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.set_actions([WriteDirectory(language=self.language)])
        self._set_react_mode(react_mode=RoleReactMode.BY_ORDER.value)

    async def _handle_directory(self, titles: dict) -> Message:
        """Add one `WriteContent` per section of the directory; returns the directory as text."""
        self.main_title = titles.get("title", "") or self.topic
        directory = f"{self.main_title}\n"
        self.total_content += f"# {self.main_title}"
        actions = list(self.actions)
        for section in titles.get("directory", []):
            actions.append(WriteContent(language=self.language, directory=section))
            for key, subsections in section.items():
                directory += f"- {key}\n" + "".join(f"  - {sub}\n" for sub in subsections)
        self.set_actions(actions)
        self.rc.max_react_loop = len(self.actions)
        return Message(directory, role=self.profile, cause_by=WriteDirectory, sent_from=self.name)

    async def _act(self) -> Message:
        todo = self.rc.todo
        if isinstance(todo, WriteDirectory):
            self.topic = self.rc.memory.get(k=1)[0].content
            return await self._handle_directory(await todo.run(topic=self.topic))
        assert todo is not None
        section = await todo.run(topic=self.topic)
        self.total_content += ("\n\n\n" if self.total_content else "") + section
        return Message(section, role=self.profile, cause_by=todo, sent_from=self.name)

    async def react(self) -> Message:
        """Write every section, then save the tutorial; the message's content is the file's path."""
        message = await super().react()
        folder = self.context.config.resolve_workspace() / TUTORIAL_DIR / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_file_name(self.main_title)}.md"
        write_atomic(path, self.total_content.encode("utf-8"))
        message.content = str(path)
        return message


def _file_name(title: str) -> str:
    name = re.sub(r"[^\w\- ]+", "_", title).strip(" ._")[:80]
    return name or "tutorial"


__all__ = ["TutorialAssistant"]
