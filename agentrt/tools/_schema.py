"""JSON schemas derived from typed Python signatures, and docstring parsing.

Plain functions, no state. Supported annotations: ``str``, ``int``, ``float``, ``bool``,
``None``, ``Any``, ``Literal[...]``, ``Enum`` subclasses, ``Optional``/unions, ``list[T]``
(also ``Sequence[T]``, ``set[T]``, ``frozenset[T]``, ``tuple[T, ...]``, fixed tuples),
``dict[str, T]`` (also ``Mapping``), dataclasses, ``TypedDict`` and ``Annotated[T, "text"]``
(the text becomes the field's description) are written here, in the compact form models
read best. Everything else pydantic can validate (a ``BaseModel``, ``date``, ``datetime``,
``UUID``, ``Decimal``, ``Annotated[int, Field(ge=1)]`` and other constraints) gets
pydantic's JSON schema with its ``$defs`` inlined (:func:`inline_refs`: models need
``$ref``-free schemas) and its per-property ``title`` noise dropped. Anything pydantic
cannot describe either raises :class:`~agentrt.tools.ToolDefinitionError` naming the
parameter. Recursive types are refused (the schema is inlined).

Descriptions come from the docstring: the text before the first section is the tool's
description; a Google-style ``Args:`` section gives per-parameter descriptions.

Example::

    def weather(city: str, unit: Literal["c", "f"] = "c") -> dict[str, float]:
        '''Current weather in a city.

        Args:
            city: City name, e.g. "Paris".
            unit: Temperature unit.
        '''

    parse_docstring(weather.__doc__)
    # ("Current weather in a city.", {"city": 'City name, e.g. "Paris".', "unit": ...})
    json_schema(Literal["c", "f"])   # {"type": "string", "enum": ["c", "f"]}
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import inspect
import re
import types
import typing
from typing import Any

from agentrt.tools._errors import ToolDefinitionError

__all__ = [
    "inline_refs",
    "is_typeddict",
    "json_kind",
    "json_schema",
    "object_fields",
    "object_schema",
    "parse_docstring",
    "split_annotated",
]

JSONSchema = dict[str, Any]

_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Params|Returns|Return|Yields|Raises|Example|Examples|"
    r"Note|Notes|Attributes|See Also|Warning|Warnings):\s*$"
)
_ARGS_SECTIONS = {"Args", "Arguments", "Parameters", "Params"}
_ARG_LINE = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")

_SEQUENCES: tuple[Any, ...] = (
    list,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    set,
    frozenset,
    collections.abc.Set,
    collections.abc.MutableSet,
    collections.abc.Iterable,
)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into (description, {parameter: description}).

    The description is the text before the first section header (``Args:``, ``Returns:``,
    ...), whitespace-normalised. Parameter lines are ``name: text`` or
    ``name (type): text``; more-indented lines continue the previous parameter.
    """
    if not doc:
        return "", {}
    intro: list[str] = []
    arg_lines: list[str] = []
    section: str | None = None
    for line in inspect.cleandoc(doc).splitlines():
        header = None if line.startswith((" ", "\t")) else _SECTION.match(line.strip())
        if header:
            section = header.group(1)
        elif section is None:
            intro.append(line)
        elif section in _ARGS_SECTIONS and line.strip():
            arg_lines.append(line)
    description = re.sub(r"\s+", " ", " ".join(intro)).strip()
    return description, _parse_args(arg_lines)


def _parse_args(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    base = min((len(ln) - len(ln.lstrip()) for ln in lines), default=0)
    current: str | None = None
    for line in lines:
        indent = len(line) - len(line.lstrip())
        match = _ARG_LINE.match(line.strip())
        if match and indent == base:
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif current is not None:
            params[current] = f"{params[current]} {line.strip()}".strip()
    return params


def split_annotated(tp: Any) -> tuple[Any, str | None]:
    """``Annotated[T, "text", ...]`` -> ``(T, "text")``; anything else -> ``(tp, None)``."""
    if typing.get_origin(tp) is typing.Annotated:
        base, *meta = typing.get_args(tp)
        text = next((m for m in meta if isinstance(m, str)), None)
        return base, text
    return tp, None


def is_typeddict(tp: Any) -> bool:
    """True for classes created with ``typing.TypedDict``."""
    return isinstance(tp, type) and typing.is_typeddict(tp)


def json_schema(
    tp: Any, *, where: str = "value", _seen: frozenset[Any] = frozenset()
) -> JSONSchema:
    """The JSON schema (draft 2020-12 subset) of annotation ``tp``.

    ``where`` names the parameter in errors. Raises ToolDefinitionError for an unsupported
    or recursive annotation.
    """
    if typing.get_origin(tp) is typing.Annotated and any(
        not isinstance(m, str) for m in typing.get_args(tp)[1:]
    ):  # Field(...) / annotated_types constraints: pydantic knows how to write them
        base, text = split_annotated(tp)
        if isinstance(base, type) and (dataclasses.is_dataclass(base) or is_typeddict(base)):
            schema = _schema_of(base, where, _seen)
        else:
            schema = pydantic_schema(tp, where=where)
    else:
        tp, text = split_annotated(tp)
        schema = _schema_of(tp, where, _seen)
    if text:
        schema = {**schema, "description": text}
    return schema


def _schema_of(tp: Any, where: str, seen: frozenset[Any]) -> JSONSchema:
    simple = _simple_schema(tp)
    if simple is not None:
        return simple
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return _literal_schema(typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [json_schema(a, where=where, _seen=seen) for a in typing.get_args(tp)]}
    if origin is tuple or tp is tuple:
        return _tuple_schema(tp, where, seen)
    if origin in _SEQUENCES or tp in _SEQUENCES:
        (item,) = typing.get_args(tp) or (Any,)
        out: JSONSchema = {"type": "array", "items": json_schema(item, where=where, _seen=seen)}
        if origin in (set, frozenset, collections.abc.Set, collections.abc.MutableSet):
            out["uniqueItems"] = True
        return out
    if origin in _MAPPINGS or tp in _MAPPINGS:
        key, value = typing.get_args(tp) or (str, Any)
        if key is not str:
            raise ToolDefinitionError(where, f"dict keys must be str (JSON objects), not {key!r}")
        return {
            "type": "object",
            "additionalProperties": json_schema(value, where=where, _seen=seen),
        }
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _literal_schema(tuple(m.value for m in tp)) | {"title": tp.__name__}
    if dataclasses.is_dataclass(tp) or is_typeddict(tp):
        if tp in seen:
            raise ToolDefinitionError(where, f"recursive type {tp.__name__} is not supported")
        return object_schema(tp, where=where, _seen=seen | {tp})
    return pydantic_schema(tp, where=where)


def pydantic_schema(tp: Any, *, where: str) -> JSONSchema:
    """pydantic's JSON schema of ``tp``, ``$ref``-free and without the property titles
    pydantic derives from names. Raises ToolDefinitionError naming ``where`` when pydantic
    cannot describe ``tp`` or it is recursive. pydantic is imported here, on first use."""
    import pydantic

    from agentrt.tools._validate import portable

    try:
        raw = pydantic.TypeAdapter(portable(tp)).json_schema()
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as exc:
        raise ToolDefinitionError(where, f"unsupported type annotation {tp!r}") from exc
    schema: JSONSchema = _drop_property_titles(inline_refs(raw, where=where))
    if "properties" not in schema and "enum" not in schema:
        schema.pop("title", None)
    return schema


def inline_refs(schema: JSONSchema, *, where: str) -> JSONSchema:
    """``schema`` with every local ``{"$ref": "#/$defs/Name"}`` replaced by the definition
    (sibling keywords such as ``description`` kept) and ``$defs`` removed. Raises
    ToolDefinitionError naming ``where`` for a recursive definition or an unknown ref."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(n, stack) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix("#/$defs/")
            if name in stack:
                raise ToolDefinitionError(where, f"recursive type {name} is not supported")
            if name not in defs:
                raise ToolDefinitionError(where, f"unresolvable schema reference {ref!r}")
            rest = {k: walk(v, stack) for k, v in node.items() if k != "$ref"}
            return {**walk(defs[name], (*stack, name)), **rest}
        return {k: walk(v, stack) for k, v in node.items() if k != "$defs"}

    out: JSONSchema = walk(schema, ())
    return out


def _untitled(name: str, prop: Any) -> Any:
    """A property's schema without the title pydantic derives from its name ("Max Price")."""
    if isinstance(prop, dict) and prop.get("title") == name.replace("_", " ").title():
        return {k: v for k, v in prop.items() if k != "title"}
    return prop


def _drop_property_titles(node: Any) -> Any:
    if isinstance(node, list):
        return [_drop_property_titles(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _drop_property_titles(v) for k, v in node.items()}
    props = out.get("properties")
    if isinstance(props, dict):
        out["properties"] = {name: _untitled(name, prop) for name, prop in props.items()}
    return out


def _simple_schema(tp: Any) -> JSONSchema | None:
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is None or tp is type(None):
        return {"type": "null"}
    if tp is Any or tp is object:
        return {}
    return None


def _literal_schema(values: tuple[Any, ...]) -> JSONSchema:
    schema: JSONSchema = {"enum": list(values)}
    kinds = {_json_type(v) for v in values}
    if len(kinds) == 1 and None not in kinds:
        schema = {"type": kinds.pop(), **schema}
    return schema


_SCALAR_KINDS = frozenset({"boolean", "integer", "number", "string"})


def json_kind(value: Any) -> str:
    """The JSON Schema type of a Python value (``"integer"``, ``"array"``...; the
    Python type's name for values JSON has no type for)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _json_type(value: Any) -> str | None:
    """A literal's scalar JSON type, None for anything else."""
    kind = json_kind(value)
    return kind if kind in _SCALAR_KINDS else None


def _tuple_schema(tp: Any, where: str, seen: frozenset[Any]) -> JSONSchema:
    args = typing.get_args(tp)
    if not args or (len(args) == 2 and args[1] is Ellipsis):
        item = args[0] if args else Any
        return {"type": "array", "items": json_schema(item, where=where, _seen=seen)}
    items = [json_schema(a, where=where, _seen=seen) for a in args]
    return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}


def object_schema(tp: Any, *, where: str, _seen: frozenset[Any] = frozenset()) -> JSONSchema:
    """The object schema of a dataclass or TypedDict (``additionalProperties: false``)."""
    hints = typing.get_type_hints(tp, include_extras=True)
    doc_text, doc_params = parse_docstring(tp.__doc__ if _own_doc(tp) else None)
    properties: dict[str, JSONSchema] = {}
    required: list[str] = []
    for name, annotation, is_required in object_fields(tp, hints):
        prop = json_schema(annotation, where=f"{where}.{name}", _seen=_seen)
        if name in doc_params and "description" not in prop:
            prop = {**prop, "description": doc_params[name]}
        properties[name] = prop
        if is_required:
            required.append(name)
    schema: JSONSchema = {"type": "object", "title": tp.__name__, "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    if doc_text:
        schema["description"] = doc_text
    return schema


def _own_doc(tp: type) -> bool:
    # dataclasses synthesize "Name(a: int, ...)" when there is no docstring: skip that.
    doc = tp.__doc__ or ""
    return not (dataclasses.is_dataclass(tp) and doc.startswith(f"{tp.__name__}("))


def object_fields(tp: Any, hints: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """(name, annotation, required) of each field of a dataclass or TypedDict."""
    if dataclasses.is_dataclass(tp):
        out = []
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            has_default = (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            )
            out.append((f.name, hints[f.name], not has_default))
        return out
    required_keys = getattr(tp, "__required_keys__", frozenset(hints))
    return [(name, hint, name in required_keys) for name, hint in hints.items()]
