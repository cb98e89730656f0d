"""The old home of the diagram repair, which asks the model and so is an action's:
`metagpt.actions.diagram_repair`. Kept only for callers not moved yet; import from there.

It is the one place where `render` reaches up to `actions`: delete this module once nothing
imports `metagpt.render.repair`.
"""

from metagpt.actions.diagram_repair import ERROR_NOTE, check_diagrams, diagram_kind, note_error

__all__ = ["ERROR_NOTE", "check_diagrams", "diagram_kind", "note_error"]
