"""The one place a stored role name becomes a class: a registry of `Role` subclasses.

Saved state (a journal's run options, `Team.serialize`'s file) records a role by name. Resuming
never imports a module or calls anything a state file names: the name is looked up among the
classes this process has defined itself (every `Role` subclass registers when its class
statement runs: the built-in roles, and the roles of the script that resumes), or registered on
purpose with `register_role` / `metagpt resume --roles module:Class`. A name that is not
registered is refused with one line before anything is imported or called.
"""

from __future__ import annotations

import importlib
import typing
from typing import Any

from pydantic import TypeAdapter, ValidationError

from metagpt.exceptions import UserError

Role = Any
"""A `metagpt.roles.role.Role` subclass (not imported: `role` imports this module)."""

_REGISTRY: dict[str, type[Role]] = {}
_BUILTIN_MODULES = ("metagpt.roles", "metagpt.roles.tutorial_assistant")
"""Our own modules whose roles saved state may always name (a fixed list, never read from state)."""


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def record_role(cls: type[Role]) -> None:
    """Called by `Role.__init_subclass__`: every role class this process defines is known by its path."""
    _REGISTRY[_path(cls)] = cls


def register_role(cls: type[Role]) -> type[Role]:
    """Make sure saved state may name `cls` (also usable as a class decorator). Returns `cls`.

    Raises:
        UserError: `cls` is not a `Role` subclass.
    """
    if not (isinstance(cls, type) and _REGISTRY.get(_path(cls)) is cls):
        raise UserError(f"{cls!r} is not a Role subclass; only roles can be registered.")
    return cls


def register_from_cli(spec: str) -> type[Role]:
    """`module:Class` (or `module.Class`), named by the user on the command line, imported and registered.

    Raises:
        UserError: it cannot be imported or is not a Role subclass.
    """
    module_name, sep, qualname = spec.partition(":")
    if not sep:
        module_name, _, qualname = spec.rpartition(".")
    if not module_name or not qualname:
        raise UserError(f"--roles takes module:Class (e.g. my_roles:Reviewer), not {spec!r}.")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"--roles {spec}: cannot import it ({exc}); check the module is on PYTHONPATH.") from None
    return register_role(target)


def registered_roles() -> dict[str, type[Role]]:
    """Every registered role class by its `module.Qualname`."""
    return dict(_REGISTRY)


def resolve_role(name: str) -> type[Role]:
    """The registered class saved state calls `name`; nothing is imported.

    A script's own classes are saved as `__main__.Name`: when the exact path is not registered, a
    class with the same qualified name is accepted if exactly one is registered.

    Raises:
        UserError: no (or more than one) registered role matches.
    """
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    cls = _REGISTRY.get(name)
    if cls is not None:
        return cls
    qualname = name.rpartition(".")[2]
    matches = [c for c in _REGISTRY.values() if c.__qualname__ == qualname]
    if len(matches) == 1:
        return matches[0]
    module = name.rpartition(".")[0] or "its module"
    raise UserError(
        f"The saved state names the role {name[:200]!r}, which is not a registered role; saved state is never "
        f"imported. Define or import it before resuming, or pass --roles {module[:100]}:{qualname[:100]}."
    )


def _field_types(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a hint that does not resolve is not checked (the value is plain data anyway)
        return {}


def _adapter(hint: Any) -> TypeAdapter | None:
    try:
        return TypeAdapter(hint)
    except Exception:  # a type pydantic cannot check (an arbitrary class) is left to the role
        return None


def validate_fields(cls: type[Role], fields: Any) -> dict[str, Any]:
    """Saved `fields` checked against `cls`'s declared fields and their annotations.

    Raises:
        UserError: a field the class does not declare, or a value of the wrong type.
    """
    if not isinstance(fields, dict):
        raise UserError(f"The saved fields of {cls.__name__} are not a mapping; the saved state is damaged.")
    unknown = sorted(str(name)[:60] for name in fields if name not in cls._declared)
    if unknown:
        raise UserError(f"The saved state gives {cls.__name__} fields it does not declare: {', '.join(unknown)}.")
    hints = _field_types(cls)
    checked = {}
    for name, value in fields.items():
        hint = hints.get(name)
        adapter = _adapter(hint) if hint is not None else None
        if adapter is not None:
            try:
                value = adapter.validate_python(value)
            except ValidationError as exc:
                reason = exc.errors()[0].get("msg", "invalid")
                raise UserError(f"The saved field {cls.__name__}.{name} is invalid: {reason}.") from None
        checked[name] = value
    return checked
