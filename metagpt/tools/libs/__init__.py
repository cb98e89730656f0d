"""The interpreter's built-in tools; importing this package registers them in `TOOL_REGISTRY`.

Each tool reads what it needs (the config's allow-list, the document store, the project folder)
from the `ToolContext` the interpreter sets for the call (`metagpt.tools.context`).
"""

from metagpt.tools.libs import data, http_json, knowledge_base, web

__all__ = ["data", "http_json", "knowledge_base", "web"]
