from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, TypedDict

import pytest

from agentrt.tools import ToolDefinitionError, tool
from agentrt.tools._schema import json_schema, parse_docstring


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass
class Point:
    """A point on the map.

    Args:
        x: Horizontal.
    """

    x: float
    y: float = 0.0
    labels: list[str] = field(default_factory=list)


class Filters(TypedDict, total=False):
    max_price: float
    brand: str


class Required(TypedDict):
    name: str


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (None, {"type": "null"}),
        (Any, {}),
        (Literal["c", "f"], {"type": "string", "enum": ["c", "f"]}),
        (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
        (Literal["a", 1], {"enum": ["a", 1]}),
        (Color, {"type": "string", "enum": ["red", "blue"], "title": "Color"}),
        (Priority, {"type": "integer", "enum": [1, 2], "title": "Priority"}),
        (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),  # noqa: UP045
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (set[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (
            tuple[int, str],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (Annotated[int, "how many"], {"type": "integer", "description": "how many"}),
    ],
    ids=str,
)
def test_schema_of_each_type(annotation: Any, expected: dict[str, Any]) -> None:
    assert json_schema(annotation) == expected


def test_dataclass_schema_has_required_fields_and_docstring_descriptions() -> None:
    schema = json_schema(Point)
    assert schema["type"] == "object"
    assert schema["title"] == "Point"
    assert schema["required"] == ["x"]
    assert schema["additionalProperties"] is False
    assert schema["description"] == "A point on the map."
    assert schema["properties"]["x"] == {"type": "number", "description": "Horizontal."}
    assert schema["properties"]["labels"] == {"type": "array", "items": {"type": "string"}}


def test_typeddict_schema_respects_totality() -> None:
    assert "required" not in json_schema(Filters)
    assert set(json_schema(Filters)["properties"]) == {"max_price", "brand"}
    assert json_schema(Required)["required"] == ["name"]


def test_docstring_description_and_args_section() -> None:
    doc = """Search the catalogue.

    Returns the best matches
    first.

    Args:
        query: What to look for,
            in plain words.
        limit (int): How many results.

    Returns:
        A list of items.
    """
    description, params = parse_docstring(doc)
    assert description == "Search the catalogue. Returns the best matches first."
    assert params == {"query": "What to look for, in plain words.", "limit": "How many results."}


def test_tool_spec_from_signature_and_docstring() -> None:
    @tool
    async def search(query: str, limit: int = 10, color: Color | None = None) -> list[str]:
        """Search the catalogue.

        Args:
            query: What to look for.
            limit: How many results.
        """
        return []

    spec = search.spec()
    assert spec["name"] == "search"
    assert spec["description"] == "Search the catalogue."
    params = spec["parameters"]
    assert params["required"] == ["query"]
    assert params["additionalProperties"] is False
    assert params["properties"]["query"] == {"type": "string", "description": "What to look for."}
    assert params["properties"]["limit"]["description"] == "How many results."
    assert search.is_async


def test_tool_options_override_name_and_description() -> None:
    @tool(name="lookup-user", description="Find a user.")
    def find(user_id: int) -> dict[str, str]:
        return {}

    assert find.name == "lookup-user"
    assert find.spec()["description"] == "Find a user."
    assert not find.is_async


def test_resource_tool_skips_its_first_parameter() -> None:
    @tool(resource="db")
    def query(conn: object, sql: str) -> list[str]:
        return []

    assert query.resource == "db"
    assert list(query.parameters["properties"]) == ["sql"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: tool(lambda *args: None),
        lambda: tool(name="bad name!")(lambda: None),
    ],
)
def test_definition_errors(make: Any) -> None:
    with pytest.raises(ToolDefinitionError):
        make()


class Opaque:
    """Neither JSON schema nor pydantic can describe it."""


def test_unsupported_annotation_is_named() -> None:
    def f(when: Opaque) -> None: ...

    with pytest.raises(ToolDefinitionError, match=r"f\.when") as info:
        tool(f)
    assert info.value.tool == "f.when"


def test_missing_annotation_and_varargs_refused() -> None:
    def no_hint(x) -> None:  # type: ignore[no-untyped-def]
        ...

    def kwargs(**kw: int) -> None: ...

    with pytest.raises(ToolDefinitionError, match="no annotation"):
        tool(no_hint)
    with pytest.raises(ToolDefinitionError, match=r"\*\*kwargs|args"):
        tool(kwargs)


def test_dict_with_non_str_keys_refused() -> None:
    with pytest.raises(ToolDefinitionError, match="dict keys"):
        json_schema(dict[int, str])


@dataclass
class Node:
    value: int
    children: list[Node]


def test_recursive_dataclass_refused() -> None:
    with pytest.raises(ToolDefinitionError, match="recursive"):
        json_schema(Node)
