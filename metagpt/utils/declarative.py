"""Declared attributes: annotated class attributes become validated constructor keywords.

MetaGPT's `Action` and `Role` are written two ways by users: as plain classes that call
`super().__init__(name, profile)` and set attributes freely (MetaGPT 0.2-0.5), and
declaratively, with annotated class attributes (`opponent_name: str = ""`) that the constructor
accepts as keywords (0.6+, where they are pydantic models). `Declared` supports both: each
keyword given is validated by pydantic against its annotation (`Role(name=42)` raises
`pydantic.ValidationError`; `"3"` for an `int` field becomes `3`), and the class has pydantic's
`model_dump`, `model_validate`, `model_fields`, `model_copy` and `model_json_schema`.

It is not a `BaseModel`: attributes stay free to assign after construction (private `_x` and
public ones alike), positional arguments keep working, and an annotation pydantic cannot check
(an LLM, a client, a name imported only for type checking) is accepted as is. The validator is
built lazily, once per class, on its first instance, so importing roles and actions costs
nothing more.
"""

from __future__ import annotations

import copy
import inspect
import sys
import warnings
from typing import Annotated, Any, ClassVar, get_origin

from pydantic import ConfigDict, PydanticDeprecatedSince20, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo
from typing_extensions import Self, TypedDict

_MISSING = object()

_CONFIG = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

__all__ = ["Declared", "ValidationError"]


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.replace("typing.", "").startswith("ClassVar")
    return annotation is ClassVar or get_origin(annotation) is ClassVar


class _ClassAttribute:
    """`cls.model_fields` on the class and on instances, computed once per class."""

    def __init__(self, method: str) -> None:
        self.method = method

    def __get__(self, instance: Any, owner: type) -> Any:
        return getattr(owner, self.method)()


class _Spec:
    """What one `Declared` class knows about its fields, built on first use."""

    def __init__(self, cls: type[Declared]) -> None:
        self.cls = cls
        self.hints, self.metadata, unresolved = _resolve(cls)
        adapter = _typed_dict_adapter(cls, self.hints, self.metadata)
        if adapter is None:  # some annotation pydantic cannot build a validator for: check the rest
            for name in list(self.hints):
                if _typed_dict_adapter(cls, {name: self.hints[name]}, self.metadata) is None:
                    self.hints[name], unresolved = Any, {*unresolved, name}
            adapter = _typed_dict_adapter(cls, self.hints, self.metadata)
        assert adapter is not None
        self.adapter = adapter
        self.unresolved = unresolved
        self._model: Any = None

    @property
    def runtime(self) -> set[str]:
        """Fields holding live objects (or of unresolved types): validated, never dumped."""
        resolved = {k: v for k, v in self.hints.items() if k not in self.unresolved}
        return self.unresolved | _runtime_fields(resolved)

    @property
    def model(self) -> Any:
        """A pydantic model of the declared fields, with their class defaults: `model_fields`,
        dumping and the JSON schema."""
        if self._model is None:
            fields: dict[str, Any] = {}
            runtime = self.runtime
            for name in self.cls._declared:
                default = getattr(self.cls, name, _MISSING)
                if isinstance(default, FieldInfo):
                    info = copy.copy(default)
                elif default is _MISSING or isinstance(default, property):
                    info = FieldInfo()
                else:
                    info = FieldInfo(default=default)
                if name in runtime:
                    info = FieldInfo.merge_field_infos(info, exclude=True)
                fields[name] = (self.hints[name], info)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. a field named like a BaseModel attribute
                self._model = create_model(
                    self.cls.__name__, __config__=_CONFIG, __module__=self.cls.__module__, **fields
                )
        return self._model


def _resolve(cls: type) -> tuple[dict[str, Any], dict[str, list[Any]], set[str]]:
    """Each declared field's annotation (evaluated), its `Field(...)` constraints, and the names
    whose annotation does not evaluate here (typed `Any`)."""
    hints: dict[str, Any] = {}
    metadata: dict[str, list[Any]] = {}
    unresolved: set[str] = set()
    for klass in reversed(cls.__mro__):
        module = sys.modules.get(klass.__module__)
        globalns = dict(vars(module)) if module is not None else {}
        localns = {**dict(vars(klass)), klass.__name__: klass}
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if name.startswith("_") or _is_classvar(annotation):
                continue
            unresolved.discard(name)
            if isinstance(annotation, str):
                try:
                    annotation = eval(annotation, globalns, localns)  # the class's own annotation
                except Exception:  # a name imported only for type checking, a typo: not checked
                    annotation, unresolved = Any, {*unresolved, name}
            hints[name] = annotation
    for name in hints:
        default = getattr(cls, name, None)
        metadata[name] = list(default.metadata) if isinstance(default, FieldInfo) else []
    return hints, metadata, unresolved


def _constrained(hint: Any, metadata: list[Any]) -> Any:
    """`hint` with a `Field(...)`'s constraints (`Field(gt=0)`), as `Annotated[hint, ...]`."""
    return Annotated.__class_getitem__((hint, *metadata)) if metadata else hint  # type: ignore[attr-defined]


def _typed_dict_adapter(cls: type, hints: dict[str, Any], metadata: dict[str, list[Any]]) -> TypeAdapter | None:
    fields = {name: _constrained(hint, metadata.get(name, [])) for name, hint in hints.items()}
    typed = TypedDict(cls.__name__, fields, total=False)  # type: ignore[misc]
    typed.__module__ = cls.__module__
    typed.__pydantic_config__ = {**_CONFIG, "title": cls.__name__}  # type: ignore[attr-defined]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PydanticDeprecatedSince20)
            return TypeAdapter(typed)
    except Exception:  # an annotation pydantic has no validator for, even as an arbitrary type
        return None


_DATA_TYPES = frozenset({str, int, float, bool, bytes, type(None), Any, object})


def _runtime_fields(hints: dict[str, Any]) -> set[str]:
    """The fields whose annotation is not data pydantic can check and dump to JSON on its own
    (an arbitrary class, a callable): they are validated as given, and never dumped."""
    return {name for name, hint in hints.items() if hint not in _DATA_TYPES and not _is_data(hint)}


def _is_data(hint: Any) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            TypeAdapter(hint).json_schema()
    except Exception:  # needs arbitrary types, or has no JSON form
        return False
    return True


class Declared:
    """Base whose public annotated class attributes are validated per-instance fields.

    Defaults are copied per instance (a list default is never shared); a pydantic `Field(...)`
    default is honoured, `default_factory` and constraints (`Field(gt=0)`) included. Defaults
    are not validated, as in pydantic.
    """

    _declared: ClassVar[tuple[str, ...]] = ()

    model_fields = _ClassAttribute("_model_fields")
    """pydantic's `FieldInfo` of each declared field, with its class default."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: dict[str, None] = {}
        for klass in reversed(cls.__mro__):
            for name, annotation in vars(klass).get("__annotations__", {}).items():
                if not name.startswith("_") and not _is_classvar(annotation):
                    names[name] = None
        cls._declared = tuple(names)

    @classmethod
    def _spec(cls) -> _Spec:
        spec = cls.__dict__.get("_declared_spec")
        if spec is None:
            spec = _Spec(cls)
            cls._declared_spec = spec  # type: ignore[attr-defined]
        return spec

    def _init_declared(self, values: dict[str, Any]) -> None:
        """Set every declared field from `values` (validated), or from its class default.

        Raises:
            TypeError: a keyword the class does not declare, or a required one missing.
            pydantic.ValidationError: a value that does not fit its field's annotation.
        """
        unknown = [name for name in values if name not in self._declared]
        if unknown:
            known = ", ".join(self._declared)
            raise TypeError(f"{type(self).__name__} got unexpected keyword(s) {unknown}; it accepts: {known}")
        if values:
            validated = self._spec().adapter.validate_python(values)
            values = {name: _same_or(values[name], value) for name, value in validated.items()}
        for name in self._declared:
            value = values[name] if name in values else _default(type(self), name)
            if value is _MISSING:
                raise TypeError(f"{type(self).__name__} needs the keyword argument {name!r}")
            setattr(self, name, value)

    # -- pydantic's API --------------------------------------------------------------------------

    @classmethod
    def _model_fields(cls) -> dict[str, FieldInfo]:
        return dict(cls._spec().model.model_fields)

    def _field_values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._declared if hasattr(self, name)}

    def model_dump(self, *, mode: str = "python", **options: Any) -> dict[str, Any]:
        """The declared fields that hold data, as pydantic dumps them (`mode="json"` too).

        Runtime state (the model, memory, context, and any field typed as an arbitrary class or
        a callable) is left out; `type(self).model_validate(dump)` rebuilds an equivalent object.
        Takes pydantic's keywords (`include`, `exclude`, `exclude_defaults`, ...).
        """
        model = self._spec().model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a value assigned later need not fit its annotation
            instance = model.model_construct(**self._field_values())
        return instance.model_dump(mode=mode, **options)

    def model_dump_json(self, **options: Any) -> str:
        """`model_dump(mode="json")` as a JSON string (pydantic's keywords, `indent` included)."""
        model = self._spec().model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            instance = model.model_construct(**self._field_values())
        return instance.model_dump_json(**options)

    @classmethod
    def model_validate(cls, obj: Any) -> Self:
        """An instance built from a mapping of declared fields (e.g. a `model_dump`).

        The class's own `__init__` runs with the fields it accepts as keywords (so a 0.2-0.5
        style role still sets up its actions); the rest are validated and set afterwards.

        Raises:
            pydantic.ValidationError: an unknown field or a value that does not fit.
        """
        if isinstance(obj, cls):
            return obj
        if isinstance(obj, Declared):
            obj = obj.model_dump()
        spec = cls._spec()
        values = dict(spec.adapter.validate_python(obj))
        parameters = inspect.signature(cls.__init__).parameters.values()
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
        named = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        given = {k: v for k, v in values.items() if takes_any or k in named}
        instance = cls(**given)
        for name, value in values.items():
            if name not in given:
                setattr(instance, name, value)
        return instance

    @classmethod
    def model_validate_json(cls, data: str | bytes) -> Self:
        """`model_validate` of a JSON document (e.g. a `model_dump_json`)."""
        return cls.model_validate(cls._spec().adapter.validate_json(data))

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy (shallow, or `deep`), with `update`'s fields set (not validated, as in pydantic)."""
        duplicate = copy.deepcopy(self) if deep else copy.copy(self)
        for name, value in (update or {}).items():
            setattr(duplicate, name, value)
        return duplicate

    @classmethod
    def model_json_schema(cls, **options: Any) -> dict[str, Any]:
        """The JSON schema of the declared fields that hold data (pydantic's keywords)."""
        return cls._spec().model.model_json_schema(**options)


def _same_or(given: Any, validated: Any) -> Any:
    """The object given when validation left it as it was (a list or dict the caller still
    holds stays shared, as before validation), else the validated (coerced) value."""
    if validated is given or type(validated) is not type(given):
        return validated
    try:
        return given if bool(validated == given) else validated
    except Exception:  # an object whose comparison fails or is ambiguous
        return validated


def _default(cls: type, name: str) -> Any:
    value = getattr(cls, name, _MISSING)
    if isinstance(value, property):
        return _MISSING
    if isinstance(value, FieldInfo):
        return value.get_default(call_default_factory=True) if not value.is_required() else _MISSING
    return copy.copy(value) if isinstance(value, list | dict | set) else value
