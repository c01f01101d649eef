"""Validation and coercion of an LLM's JSON tool arguments, on pydantic-core.

:class:`ArgumentValidator` compiles a tool's parameters once (at ``@tool`` time) into a
pydantic ``TypeAdapter`` over a TypedDict of the parameters (``extra="forbid"``), so that
validating a call is one pass of pydantic-core's Rust validator over the JSON text. Why
pydantic-core and not msgspec (measured in ``loadtest/bench/cache.py``, part
``validate``): msgspec is faster but has no ``BaseModel``, ``Field`` constraints on plain
parameters, or lax ``"42"`` -> 42 coercion of nested fields together with field-by-field
errors; pydantic has all of them.

Coercions are pydantic's lax mode (what an LLM commonly needs): ``"42"`` -> ``42`` for
``int``, ``"2.5"``/``2`` -> ``2.5`` for ``float``, ``3.0`` -> ``3`` for ``int``,
``"true"``/``"false"`` -> ``bool``, a number -> its text for ``str``
(``coerce_numbers_to_str``), an Enum by value, ISO text -> ``date``/``datetime``/``UUID``,
JSON arrays -> ``tuple``/``set``. ``NaN`` and infinities are refused. Unknown fields are an
error (the schema says ``additionalProperties: false``).

Every problem is reported as an :class:`~agentrt.tools.ArgumentProblem` with the field's
path (``"window.days"``, ``"ids[1]"``), what was expected (worded from the field's JSON
schema: ``"an integer"``, ``"one of 'c', 'f'"``, or pydantic's constraint text such as
``"greater than or equal to 1"``) and what was given, so one error message lets the model
fix all of its mistakes at once.

Example::

    validator = ArgumentValidator("book", [("city", str, REQUIRED), ("days", int, 1)])
    validator.validate('{"city": "Paris", "days": "3"}')   # {"city": "Paris", "days": 3}
    validator.validate('{"days": "soon"}')                  # ToolArgumentError: city, days
"""

from __future__ import annotations

import functools
import operator
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import pydantic
import typing_extensions
from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from agentrt.tools._errors import ArgumentProblem, ToolArgumentError, ToolDefinitionError
from agentrt.tools._schema import inline_refs, is_typeddict, json_kind

__all__ = ["REQUIRED", "ArgumentValidator", "describe_schema", "describe_value"]

REQUIRED: Final = object()
"""The default of a parameter that has none (the argument must be given)."""

_MAX_GIVEN = 60

_CONFIG = ConfigDict(extra="forbid", coerce_numbers_to_str=True, allow_inf_nan=False)

#: pydantic error types that mean "this is not the type the field wants": worded from the
#: field's schema ("an integer"), not from pydantic's text.
_TYPE_ERRORS = frozenset(
    {
        "bool_parsing",
        "bool_type",
        "dataclass_type",
        "dataclass_exact_type",
        "dict_type",
        "enum",
        "finite_number",
        "float_parsing",
        "float_type",
        "frozen_set_type",
        "int_from_float",
        "int_parsing",
        "int_type",
        "list_type",
        "literal_error",
        "model_attributes_type",
        "model_type",
        "none_required",
        "set_type",
        "string_type",
        "tuple_type",
    }
)
_UNKNOWN = frozenset({"extra_forbidden", "unexpected_keyword_argument"})


def describe_value(value: Any) -> str:
    """A short description of a JSON value for error messages: ``'abc' (string)``."""
    text = repr(value)
    if len(text) > _MAX_GIVEN:
        text = text[: _MAX_GIVEN - 3] + "..."
    return f"{text} ({json_kind(value)})"


class ArgumentValidator:
    """The compiled validator of one tool's arguments.

    ``params`` is ``(name, annotation, default)`` per parameter, ``default`` being
    :data:`REQUIRED` for a required one or a pydantic ``FieldInfo`` (``= Field(3, ge=1)``,
    whose constraints then apply). ``schema`` is the JSON schema pydantic derives (``$ref``
    inlined), used to word errors. Raises ToolDefinitionError naming the parameter when
    pydantic cannot validate an annotation.
    """

    def __init__(self, tool: str, params: Sequence[tuple[str, Any, Any]]) -> None:
        self.tool = tool
        fields: dict[str, Any] = {}
        self._defaults: dict[str, Any] = {}
        self._factories: dict[str, Callable[[], Any]] = {}
        for name, annotation, default in params:
            annotation = portable(annotation)
            if isinstance(default, FieldInfo):
                annotation = typing.Annotated[annotation, default]
                if default.default_factory is not None:
                    self._factories[name] = typing.cast(Callable[[], Any], default.default_factory)
                    default = None
                elif default.is_required():
                    default = REQUIRED
                else:
                    default = default.default
            if default is REQUIRED:
                fields[name] = annotation
            else:
                fields[name] = typing_extensions.NotRequired[annotation]
                if name not in self._factories:
                    self._defaults[name] = default
            _check(f"{tool}.{name}", annotation)
        make_shape: Any = typing_extensions.TypedDict
        shape = make_shape(tool.replace("-", "_"), fields)
        shape.__pydantic_config__ = _CONFIG
        try:
            self._adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(shape)
            self.schema = inline_refs(self._adapter.json_schema(), where=tool)
        except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as exc:
            raise ToolDefinitionError(tool, str(exc).splitlines()[0]) from None

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """Parse (when JSON text) and validate; returns the keyword arguments with
        defaults filled in. Raises ToolArgumentError naming every bad field (JSON that
        does not parse or is not an object is reported for the field ``""``)."""
        value: object = arguments  # callers outside mypy may pass anything
        try:
            if isinstance(value, str | bytes):
                out = self._adapter.validate_json(value if value.strip() else "{}")
            elif isinstance(value, Mapping):
                out = self._adapter.validate_python(dict(value))
            else:
                problem = ArgumentProblem("", "a JSON object", describe_value(value))
                raise ToolArgumentError(self.tool, [problem])
        except ValidationError as exc:
            raise ToolArgumentError(self.tool, self._problems(exc)) from None
        if self._factories:
            for name, factory in self._factories.items():
                if name not in out:
                    out[name] = factory()
        return {**self._defaults, **out} if self._defaults else out

    def _problems(self, exc: ValidationError) -> list[ArgumentProblem]:
        problems: dict[str, ArgumentProblem] = {}
        for error in exc.errors(include_url=False):
            problem = self._problem(error)
            problems.setdefault(problem.field, problem)  # a union's members: the first
        return list(problems.values())

    def _problem(self, error: Any) -> ArgumentProblem:
        kind: str = error["type"]
        loc: tuple[str | int, ...] = error["loc"]
        if kind == "json_invalid":
            given = error["input"]
            if isinstance(given, bytes):
                given = given.decode(errors="replace")
            reason = error.get("ctx", {}).get("error", error["msg"])
            return ArgumentProblem("", f"valid JSON object text ({reason})", describe_value(given))
        path, schema, parent, in_union = _walk(self.schema, loc)
        if kind in _UNKNOWN:
            allowed = ", ".join(parent.get("properties", {})) or "(none)"
            return ArgumentProblem(path, allowed, describe_value(error["input"]), unknown=True)
        if not path and kind in _TYPE_ERRORS:
            return ArgumentProblem("", "a JSON object", describe_value(error["input"]))
        if kind == "missing":
            return ArgumentProblem(path, describe_schema(schema), None)
        if in_union or kind in _TYPE_ERRORS:
            expected = describe_schema(schema)
        else:
            msg: str = error["msg"]
            expected = msg.removeprefix("Input should be ").removeprefix("Value error, ")
        return ArgumentProblem(path, expected, describe_value(error["input"]))


def _walk(
    schema: dict[str, Any], loc: tuple[str | int, ...]
) -> tuple[str, dict[str, Any], dict[str, Any], bool]:
    """Follow ``loc`` through ``schema``: (field path, the field's schema, its parent
    object's schema, whether a union member's tag was skipped)."""
    path = ""
    parent = schema
    in_union = False
    for part in loc:
        members = [m for m in schema.get("anyOf", ()) if m.get("type") != "null"]
        if len(members) == 1:  # Optional[T]: pydantic adds no tag
            schema = members[0]
        elif members:
            in_union = True
            break  # a union member's tag (e.g. "int"): report the union as a whole
        if isinstance(part, int):
            path = f"{path}[{part}]"
            prefix = schema.get("prefixItems")
            if prefix is not None and part < len(prefix):
                schema = prefix[part]
            elif isinstance(schema.get("items"), dict):
                schema = schema["items"]
            else:
                schema = {}
            continue
        path = f"{path}.{part}" if path else part
        props = schema.get("properties")
        if props is not None:
            parent = schema
            schema = props.get(part, {})
        elif isinstance(schema.get("additionalProperties"), dict):
            schema = schema["additionalProperties"]
        else:
            schema = {}
    return path, schema, parent, in_union


_KIND_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}
_FORMAT_WORDS = {
    "date": "a date string (YYYY-MM-DD)",
    "date-time": "an ISO 8601 date-time string",
    "time": "an ISO 8601 time string",
    "uuid": "a UUID string",
    "email": "an email address",
    "uri": "a URI",
}


def describe_schema(schema: Mapping[str, Any]) -> str:
    """What a JSON schema asks for, in words: ``"an integer"``, ``"one of 'c', 'f'"``,
    ``"an array of strings"``, ``"an object (Window) with fields: start, days"``."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return f"exactly {schema['const']!r}"
    if "anyOf" in schema:
        return " or ".join(describe_schema(m) for m in schema["anyOf"])
    kind = schema.get("type")
    if kind == "string" and schema.get("format") in _FORMAT_WORDS:
        return _FORMAT_WORDS[schema["format"]]
    if isinstance(kind, str) and kind in _KIND_WORDS:
        return _KIND_WORDS[kind]
    if kind == "array":
        if "prefixItems" in schema:
            return f"an array of exactly {len(schema['prefixItems'])} items"
        return f"an array of {_plural(describe_schema(schema.get('items', {})))}"
    if kind == "object":
        props = schema.get("properties")
        if props is not None:
            title = schema.get("title", "object")
            return f"an object ({title}) with fields: {', '.join(props) or '(none)'}"
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            return f"an object whose values are {_plural(describe_schema(values))}"
        return "an object"
    return "any JSON value"


def _plural(expected: str) -> str:
    for article in ("an ", "a "):
        if expected.startswith(article):
            return expected[len(article) :] + "s"
    return expected


def portable(tp: Any) -> Any:
    """``tp`` with every ``typing.TypedDict`` reachable through generic arguments rebuilt
    as a ``typing_extensions.TypedDict`` on Python 3.11 (pydantic refuses the former
    before 3.12); unchanged on 3.12+."""
    if sys.version_info >= (3, 12):
        return tp
    return _portable(tp)


_REBUILT: dict[Any, Any] = {}


def _portable(tp: Any) -> Any:
    if is_typeddict(tp) and type(tp).__module__ == "typing":
        if tp not in _REBUILT:
            hints = typing.get_type_hints(tp, include_extras=True)
            required = getattr(tp, "__required_keys__", frozenset(hints))
            fields = {
                k: _portable(v) if k in required else typing_extensions.NotRequired[_portable(v)]
                for k, v in hints.items()
            }
            make: Any = typing_extensions.TypedDict
            rebuilt = make(tp.__name__, fields)
            rebuilt.__doc__ = tp.__doc__
            _REBUILT[tp] = rebuilt
        return _REBUILT[tp]
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is None or origin is typing.Literal or not args:
        return tp
    if origin is typing.Annotated:
        return typing.Annotated[(_portable(args[0]), *args[1:])]
    new = tuple(a if a is Ellipsis else _portable(a) for a in args)
    if new == args:
        return tp
    if isinstance(tp, types.UnionType):
        return functools.reduce(operator.or_, new)
    if isinstance(tp, types.GenericAlias):
        return origin[new]
    return tp.copy_with(new)


def _check(where: str, annotation: Any) -> None:
    """Raise ToolDefinitionError (naming ``where``) when pydantic cannot validate it."""
    try:
        TypeAdapter(annotation)
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as exc:
        raise ToolDefinitionError(where, f"unsupported type annotation {annotation!r}") from exc
