"""A role as data: its class and the declared fields it was built with, to rebuild it later.

A resumed run and `Team.deserialize` hire the same roles again from these specs. Only fields
whose values are plain data (text, numbers, booleans, lists and dicts of them) are kept; a
role whose constructor needs anything else must be hired again by the script.
"""

from __future__ import annotations

import importlib
from typing import Any

from metagpt.exceptions import UserError
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
    """The role a `role_spec` describes.

    Raises:
        UserError: the class cannot be imported or built (say which, and what to do).
    """
    path = str(spec.get("class", ""))
    module_name, _, qualname = path.rpartition(".")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
        role = target(**spec.get("fields", {}))
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise UserError(
            f"Cannot rebuild the role {path or '?'} ({exc}); make its module importable, or hire it again in a script."
        ) from None
    if not isinstance(role, Role):
        raise UserError(f"{path} is not a Role; the saved team cannot be rebuilt.")
    return role
