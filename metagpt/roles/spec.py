"""A role as data: its class and the declared fields it was built with, to rebuild it later.

A resumed run and `Team.deserialize` hire the same roles again from these specs. Only fields
whose values are plain data (text, numbers, booleans, lists and dicts of them) are kept; a
role whose constructor needs anything else must be hired again by the script. The class is
looked up in `roles.registry`, never imported from the name a spec holds.
"""

from __future__ import annotations

from typing import Any

from metagpt.exceptions import UserError
from metagpt.roles.registry import resolve_role, validate_fields
from metagpt.roles.role import Role


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def role_spec(role: Role) -> dict[str, Any]:
    """`{"class": "module.Class", "fields": {...}}` for `role`."""
    cls = type(role)
    fields = {name: getattr(role, name) for name in role._declared if _plain(getattr(role, name, None))}
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "fields": fields}


def build_role(spec: dict[str, Any]) -> Role:
    """The role a `role_spec` describes, its class found in the role registry (never imported).

    Raises:
        UserError: the class is not a registered role, or its saved fields do not fit it.
    """
    if not isinstance(spec, dict):
        raise UserError("A saved role is not a mapping; the saved state is damaged.")
    cls = resolve_role(str(spec.get("class", "")))
    fields = validate_fields(cls, spec.get("fields", {}))
    try:
        return cls(**fields)
    except (TypeError, ValueError) as exc:
        raise UserError(f"Cannot rebuild the role {cls.__name__} ({exc}); hire it again in a script.") from None
