"""Declared attributes: annotated class attributes become constructor keywords.

MetaGPT's `Action` and `Role` are written two ways by users: as plain classes that call
`super().__init__(name, profile)` and set attributes freely, and declaratively, with annotated
class attributes (`opponent_name: str = ""`) that the constructor accepts as keywords. `Declared`
supports both without turning the classes into pydantic models.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, get_origin

from pydantic.fields import FieldInfo

_MISSING = object()


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.replace("typing.", "").startswith("ClassVar")
    return annotation is ClassVar or get_origin(annotation) is ClassVar


class Declared:
    """Base whose public annotated class attributes are per-instance fields with defaults.

    Defaults are copied per instance (a list default is never shared); a pydantic `Field(...)`
    default is honoured, `default_factory` included.
    """

    _declared: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: dict[str, None] = {}
        for klass in reversed(cls.__mro__):
            for name, annotation in vars(klass).get("__annotations__", {}).items():
                if not name.startswith("_") and not _is_classvar(annotation):
                    names[name] = None
        cls._declared = tuple(names)

    def _init_declared(self, values: dict[str, Any]) -> None:
        """Set every declared field from `values`, or from its class default."""
        unknown = [name for name in values if name not in self._declared]
        if unknown:
            known = ", ".join(self._declared)
            raise TypeError(f"{type(self).__name__} got unexpected keyword(s) {unknown}; it accepts: {known}")
        for name in self._declared:
            value = values[name] if name in values else _default(type(self), name)
            if value is _MISSING:
                raise TypeError(f"{type(self).__name__} needs the keyword argument {name!r}")
            setattr(self, name, value)


def _default(cls: type, name: str) -> Any:
    value = getattr(cls, name, _MISSING)
    if isinstance(value, property):
        return _MISSING
    if isinstance(value, FieldInfo):
        return value.get_default(call_default_factory=True) if not value.is_required() else _MISSING
    return copy.copy(value) if isinstance(value, list | dict | set) else value
