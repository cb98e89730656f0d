"""The call journal: every model call of a project, recorded before it is trusted."""

from metagpt.journal.scope import call_scope, current_scope
from metagpt.journal.store import CallEnd, CallStart, Journal, fingerprint

__all__ = ["CallEnd", "CallStart", "Journal", "call_scope", "current_scope", "fingerprint"]
