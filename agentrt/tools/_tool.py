"""``@tool``: a typed function (sync or async) becomes a :class:`Tool`.

The tool's name is the function's name (or ``name=``), its description the docstring's
first part, its JSON schema derived from the signature (see :mod:`agentrt.tools._schema`)
and its arguments validated and coerced against that signature by pydantic-core (see
:mod:`agentrt.tools._validate`). A parameter may be a pydantic ``BaseModel``, a ``date``,
``UUID``, ``Literal``, Enum, nested dataclass or TypedDict, and may carry ``Field``
constraints: ``Annotated[int, Field(ge=1)]`` or ``days: int = Field(1, ge=1)``. A tool
that owns a blocking resource names it with ``resource=``: its first parameter receives
the resource and is not part of the schema.

Decoration raises :class:`~agentrt.tools.ToolDefinitionError` for what a JSON schema cannot
describe: ``*args``/``**kwargs``, a parameter without annotation, an unsupported type, or a
name outside ``[A-Za-z0-9_-]{1,64}``.

Example::

    @tool
    async def weather(city: str, unit: Literal["c", "f"] = "c") -> dict[str, float]:
        '''Current weather in a city.

        Args:
            city: City name, e.g. "Paris".
        '''
        ...

    weather.spec()["parameters"]["required"]     # ["city"]
    weather.validate('{"city": "Paris"}')       # {"city": "Paris", "unit": "c"}

    @tool(resource="db", policy=ToolPolicy(timeout=5))
    def lookup(db: sqlite3.Connection, user_id: int) -> dict[str, str]: ...
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

import msgspec

from agentrt.tools._errors import ToolDefinitionError
from agentrt.tools._policy import ToolPolicy
from agentrt.tools._schema import json_schema, parse_docstring

__all__ = ["ArgumentsValidator", "Tool", "canonical_json", "tool"]


class ArgumentsValidator(Protocol):
    """What checks a tool's arguments: pydantic-core for ``@tool`` functions
    (:class:`~agentrt.tools._validate.ArgumentValidator`), the server's JSON schema for MCP
    tools. Raises ToolArgumentError naming every bad field."""

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]: ...


_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CANONICAL = msgspec.json.Encoder(order="sorted")


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes of a JSON-able value: sorted keys, no whitespace.

    Dataclasses, pydantic models, enums, dates, UUIDs, tuples and sets are encoded as their
    JSON forms, so two equal validated argument sets always give the same bytes.
    """
    return _CANONICAL.encode(msgspec.to_builtins(value, order="sorted", enc_hook=_to_json))


def _to_json(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # a pydantic model
    if dump is not None:
        return dump(mode="json")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


@dataclass(frozen=True, eq=False, slots=True)
class Tool:
    """A callable the LLM may invoke. Build it with :func:`tool`.

    ``fn`` is the original function; ``is_async`` says whether it is a coroutine function;
    ``resource`` names the resource its first parameter receives (None when it owns none);
    ``policy`` is the default :class:`ToolPolicy` (a registry may override it).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    is_async: bool
    resource: str | None = None
    policy: ToolPolicy = field(default_factory=ToolPolicy)
    _validator: ArgumentsValidator | None = field(default=None, repr=False)

    def spec(self) -> dict[str, Any]:
        """The tool as an LLM function definition: ``{"name", "description", "parameters"}``."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """Parse (when JSON text) and validate the arguments; returns the keyword arguments.

        Defaults are filled in. Raises ToolArgumentError naming every bad field (JSON that
        does not parse or is not an object is reported for the field ``""``).
        """
        assert self._validator is not None
        return self._validator.validate(arguments)

    def canonical_arguments(self, kwargs: Mapping[str, Any]) -> bytes:
        """Canonical JSON of validated keyword arguments (the cache key's input)."""
        return canonical_json(kwargs)

    def __repr__(self) -> str:
        kind = "async" if self.is_async else "sync"
        extra = f", resource={self.resource!r}" if self.resource else ""
        return f"Tool({self.name!r}, {kind}{extra})"


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    resource: str | None = None,
    policy: ToolPolicy | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    resource: str | None = None,
    policy: ToolPolicy | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a :class:`Tool` of a typed function; usable bare (``@tool``) or with options.

    ``name`` defaults to the function's name, ``description`` to its docstring's text
    before the first section, ``policy`` to ``ToolPolicy()``. ``resource`` names the
    resource passed as the first argument (see :class:`ResourceExecutor`).
    """

    def build(func: Callable[..., Any]) -> Tool:
        return _build(func, name, description, resource, policy or ToolPolicy())

    return build(fn) if fn is not None else build


def _build(
    fn: Callable[..., Any],
    name: str | None,
    description: str | None,
    resource: str | None,
    policy: ToolPolicy,
) -> Tool:
    from pydantic.fields import FieldInfo

    from agentrt.tools._validate import REQUIRED, ArgumentValidator

    tool_name: str = name or str(getattr(fn, "__name__", ""))
    if not _NAME.match(tool_name):
        raise ToolDefinitionError(tool_name, "name must match [A-Za-z0-9_-]{1,64}")
    doc_text, doc_params = parse_docstring(inspect.getdoc(fn))
    params = _parameters(fn, tool_name, resource is not None)
    hints = typing.get_type_hints(fn, include_extras=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    fields: list[tuple[str, Any, Any]] = []
    for param in params:
        if param.name not in hints:
            raise ToolDefinitionError(tool_name, f"parameter {param.name!r} has no annotation")
        where = f"{tool_name}.{param.name}"
        annotation = hints[param.name]
        if isinstance(param.default, FieldInfo):  # days: int = Field(1, ge=1)
            annotation = typing.Annotated[annotation, param.default]
        prop = json_schema(annotation, where=where)
        if param.name in doc_params and "description" not in prop:
            prop = {**prop, "description": doc_params[param.name]}
        properties[param.name] = prop
        if param.default is inspect.Parameter.empty or (
            isinstance(param.default, FieldInfo) and param.default.is_required()
        ):
            required.append(param.name)
        fields.append((param.name, hints[param.name], _default(param.default, REQUIRED)))
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    validator = ArgumentValidator(tool_name, fields)
    return Tool(
        name=tool_name,
        description=description if description is not None else doc_text,
        parameters=schema,
        fn=fn,
        is_async=inspect.iscoroutinefunction(fn),
        resource=resource,
        policy=policy,
        _validator=validator,
    )


def _default(default: Any, required: Any) -> Any:
    return required if default is inspect.Parameter.empty else default


def _parameters(fn: Callable[..., Any], name: str, has_resource: bool) -> list[inspect.Parameter]:
    params = list(inspect.signature(fn).parameters.values())
    if has_resource:
        if not params:
            raise ToolDefinitionError(name, "a resource tool's first parameter takes the resource")
        params = params[1:]
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(name, f"*args/**kwargs ({param.name!r}) are not supported")
        if param.kind is param.POSITIONAL_ONLY:
            raise ToolDefinitionError(name, f"positional-only parameter {param.name!r}")
    return params
