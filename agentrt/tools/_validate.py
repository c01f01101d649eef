"""Validation and coercion of an LLM's JSON tool arguments.

:func:`compile_converter` turns an annotation into a converter once (at ``@tool`` time);
converting a value then walks only that plan. Every problem is collected, with the field's
path, what was expected and what was given, so one error message lets the model fix all
of its mistakes at once.

Coercions (lossless ones an LLM commonly needs): ``"42"`` -> ``42`` for ``int``,
``"2.5"``/``2`` -> ``2.5`` for ``float``, ``3.0`` -> ``3`` for ``int``, ``"true"``/``"false"``
-> ``bool``, a number -> its text for ``str``, ``"c"`` -> ``Unit.C`` for an Enum by value
(then by member name), JSON arrays -> ``tuple``/``set`` when annotated so. Unions try each
member strictly first, then with coercion. Unknown fields are an error (the schema says
``additionalProperties: false``).

Example::

    convert = compile_converter(list[int], where="ids")
    problems: list[ArgumentProblem] = []
    convert(["1", 2], "ids", problems)      # -> [1, 2]
    convert(["x"], "ids", problems)         # -> INVALID; problems[0].field == "ids[0]"
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final

from agentrt.tools._errors import ArgumentProblem, ToolDefinitionError
from agentrt.tools._schema import is_typeddict, json_kind, object_fields, split_annotated

__all__ = ["INVALID", "Converter", "ObjectPlan", "Plan", "compile_converter", "describe_value"]


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()
"""Returned by a converter when the value is invalid (its problems were recorded)."""

Problems = list[ArgumentProblem]
Converter = Callable[[Any, str, Problems], Any]
"""``convert(value, path, problems) -> converted value or INVALID``."""

_MAX_GIVEN = 60


def describe_value(value: Any) -> str:
    """A short description of a JSON value for error messages: ``'abc' (string)``."""
    text = repr(value)
    if len(text) > _MAX_GIVEN:
        text = text[: _MAX_GIVEN - 3] + "..."
    return f"{text} ({json_kind(value)})"


def _child(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


class Plan:
    """A compiled converter: ``expected`` describes it; ``run(value, path, problems,
    coerce)`` converts one value (or returns INVALID); calling it converts with coercion."""

    expected = "a value"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        raise NotImplementedError

    def __call__(self, value: Any, path: str, problems: Problems) -> Any:
        return self.run(value, path, problems, True)

    def fail(self, value: Any, path: str, problems: Problems) -> Any:
        problems.append(ArgumentProblem(path, self.expected, describe_value(value)))
        return INVALID


class _AnyPlan(Plan):
    expected = "any JSON value"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        return value


class _StrPlan(Plan):
    expected = "a string"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        if isinstance(value, str):
            return value
        if coerce and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return self.fail(value, path, problems)


class _IntPlan(Plan):
    expected = "an integer"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if coerce and isinstance(value, float) and value.is_integer():
            return int(value)
        if coerce and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        return self.fail(value, path, problems)


class _FloatPlan(Plan):
    expected = "a number"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if coerce and isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return number
        return self.fail(value, path, problems)


class _BoolPlan(Plan):
    expected = "a boolean (true or false)"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        if isinstance(value, bool):
            return value
        if coerce and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return self.fail(value, path, problems)


class _NonePlan(Plan):
    expected = "null"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        return None if value is None else self.fail(value, path, problems)


class _ChoicePlan(Plan):
    """A Literal or an Enum: one of a closed set of JSON scalars."""

    def __init__(self, values: tuple[Any, ...], enum_cls: type[enum.Enum] | None) -> None:
        self.values = values
        self.enum_cls = enum_cls
        self.expected = "one of " + ", ".join(repr(v) for v in values)

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        for choice in self.values:
            if type(value) is type(choice) and value == choice:
                return self._result(choice)
        if coerce:
            for choice in self.values:
                if isinstance(value, str) and str(choice) == value.strip():
                    return self._result(choice)
            if self.enum_cls is not None and isinstance(value, str):
                member = self.enum_cls.__members__.get(value.strip())
                if member is not None:
                    return member
        return self.fail(value, path, problems)

    def _result(self, choice: Any) -> Any:
        return choice if self.enum_cls is None else self.enum_cls(choice)


class _UnionPlan(Plan):
    def __init__(self, members: list[Plan]) -> None:
        self.members = members
        self.expected = " or ".join(m.expected for m in members)

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        for mode in (False, True) if coerce else (False,):
            for member in self.members:
                scratch: Problems = []
                out = member.run(value, path, scratch, mode)
                if out is not INVALID:
                    return out
        return self.fail(value, path, problems)


class _OptionalPlan(Plan):
    """``T | None``: null, or whatever ``T`` accepts (with ``T``'s own detailed problems)."""

    def __init__(self, inner: Plan) -> None:
        self.inner = inner
        self.expected = f"{inner.expected} or null"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        return None if value is None else self.inner.run(value, path, problems, coerce)


class _ArrayPlan(Plan):
    def __init__(self, item: Plan, factory: Callable[[list[Any]], Any]) -> None:
        self.item = item
        self.factory = factory
        self.expected = f"an array of {_plural(item.expected)}"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        if not isinstance(value, list | tuple):
            return self.fail(value, path, problems)
        out = [self.item.run(v, _child(path, i), problems, coerce) for i, v in enumerate(value)]
        return INVALID if any(v is INVALID for v in out) else self.factory(out)


class _TuplePlan(Plan):
    def __init__(self, items: list[Plan]) -> None:
        self.items = items
        self.expected = f"an array of exactly {len(items)} items"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        if not isinstance(value, list | tuple) or len(value) != len(self.items):
            return self.fail(value, path, problems)
        out = [
            p.run(v, _child(path, i), problems, coerce)
            for i, (p, v) in enumerate(zip(self.items, value, strict=True))
        ]
        return INVALID if any(v is INVALID for v in out) else tuple(out)


class _MapPlan(Plan):
    def __init__(self, value: Plan) -> None:
        self.value = value
        self.expected = f"an object whose values are {_plural(value.expected)}"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        if not isinstance(value, dict):
            return self.fail(value, path, problems)
        out = {
            k: self.value.run(v, _child(path, str(k)), problems, coerce) for k, v in value.items()
        }
        return INVALID if any(v is INVALID for v in out.values()) else out


class ObjectPlan(Plan):
    """A fixed set of named fields (a dataclass, a TypedDict, or a tool's parameters)."""

    def __init__(
        self,
        name: str,
        fields: dict[str, Plan],
        required: frozenset[str],
        build: Callable[[dict[str, Any]], Any],
    ) -> None:
        self.fields = fields
        self.required = required
        self.build = build
        self.expected = f"an object ({name}) with fields: {', '.join(fields) or '(none)'}"

    def run(self, value: Any, path: str, problems: Problems, coerce: bool) -> Any:
        if not isinstance(value, dict):
            return self.fail(value, path, problems)
        start = len(problems)
        out: dict[str, Any] = {}
        for key, raw in value.items():
            plan = self.fields.get(key)
            if plan is None:
                allowed = ", ".join(self.fields) or "(none)"
                field = _child(path, str(key))
                problems.append(ArgumentProblem(field, allowed, describe_value(raw), unknown=True))
                continue
            out[key] = plan.run(raw, _child(path, key), problems, coerce)
        for key in self.required:
            if key not in value:
                problems.append(ArgumentProblem(_child(path, key), self.fields[key].expected, None))
        if len(problems) > start:
            return INVALID
        return self.build(out)


def _plural(expected: str) -> str:
    for article in ("an ", "a "):
        if expected.startswith(article):
            return expected[len(article) :] + "s"
    return expected


def compile_converter(tp: Any, *, where: str) -> Plan:
    """Compile annotation ``tp`` into a converter (see the module docstring).

    ``where`` names the parameter in a ToolDefinitionError for an unsupported type.
    """
    return _compile(tp, where)


def _compile(tp: Any, where: str) -> Plan:
    tp, _ = split_annotated(tp)
    simple = _SIMPLE.get(tp)
    if simple is not None:
        return simple()
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return _ChoicePlan(args, None)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if len(members) == 1 and len(args) == 2:
            return _OptionalPlan(_compile(members[0], where))
        return _UnionPlan([_compile(a, where) for a in args])
    if origin is tuple or tp is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return _ArrayPlan(_compile(args[0] if args else Any, where), tuple)
        return _TuplePlan([_compile(a, where) for a in args])
    if origin in _FACTORIES or tp in _FACTORIES:
        factory = _FACTORIES[origin or tp]
        return _ArrayPlan(_compile(args[0] if args else Any, where), factory)
    if origin in _MAPPINGS or tp in _MAPPINGS:
        return _MapPlan(_compile(args[1] if args else Any, where))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _ChoicePlan(tuple(m.value for m in tp), tp)
    if dataclasses.is_dataclass(tp) or is_typeddict(tp):
        return object_plan(tp, where)
    raise ToolDefinitionError(where, f"unsupported type annotation {tp!r}")


def object_plan(tp: Any, where: str) -> ObjectPlan:
    """The plan of a dataclass (built with its constructor) or TypedDict (a dict)."""
    hints = typing.get_type_hints(tp, include_extras=True)
    fields: dict[str, Plan] = {}
    required: set[str] = set()
    for name, annotation, is_required in object_fields(tp, hints):
        fields[name] = _compile(annotation, f"{where}.{name}")
        if is_required:
            required.add(name)
    build: Callable[[dict[str, Any]], Any] = dict
    if dataclasses.is_dataclass(tp):
        cls: Any = tp
        build = lambda kw: cls(**kw)  # noqa: E731
    return ObjectPlan(tp.__name__, fields, frozenset(required), build)


_SIMPLE: dict[Any, Callable[[], Plan]] = {
    str: _StrPlan,
    int: _IntPlan,
    float: _FloatPlan,
    bool: _BoolPlan,
    None: _NonePlan,
    type(None): _NonePlan,
    Any: _AnyPlan,
    object: _AnyPlan,
}
_FACTORIES: dict[Any, Callable[[list[Any]], Any]] = {
    list: list,
    collections.abc.Sequence: list,
    collections.abc.MutableSequence: list,
    collections.abc.Iterable: list,
    set: set,
    collections.abc.Set: frozenset,
    collections.abc.MutableSet: set,
    frozenset: frozenset,
}
_MAPPINGS = (dict, Mapping, collections.abc.MutableMapping)
