"""Tool arguments that are pydantic models, dates, UUIDs and carry Field constraints."""

from __future__ import annotations

import datetime
import enum
import json
import uuid
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from agentrt.tools import ToolArgumentError, ToolDefinitionError, tool


class Seat(enum.Enum):
    AISLE = "aisle"
    WINDOW = "window"


class Passenger(BaseModel):
    """Who travels."""

    name: Annotated[str, Field(min_length=1, description="Full name.")]
    age: Annotated[int, Field(ge=0, le=130)]
    seat: Seat = Seat.AISLE


class Trip(BaseModel):
    origin: str
    passengers: list[Passenger]
    klass: Literal["economy", "business"] = "economy"


@tool
def book(
    trip: Trip,
    day: datetime.date,
    booking_id: uuid.UUID,
    nights: Annotated[int, Field(ge=1, le=30)] = 1,
    budget: float = Field(500.0, gt=0),
) -> str:
    """Book a trip.

    Args:
        trip: The trip.
        day: Departure day.
    """
    return trip.origin


BOOKING = "6f1c0f7e-2a7b-4a53-9d7d-0d6c2b4a9f10"
GOOD = {
    "trip": {"origin": "Paris", "passengers": [{"name": "Ada", "age": "36", "seat": "window"}]},
    "day": "2026-05-01",
    "booking_id": BOOKING,
}


def _refs(node: Any) -> list[str]:
    text = json.dumps(node)
    return [k for k in ("$ref", "$defs") if k in text]


def test_models_dates_uuids_validate_into_their_types() -> None:
    out = book.validate(json.dumps(GOOD))
    assert isinstance(out["trip"], Trip)
    assert out["trip"].passengers[0] == Passenger(name="Ada", age=36, seat=Seat.WINDOW)
    assert out["day"] == datetime.date(2026, 5, 1)
    assert out["booking_id"] == uuid.UUID(BOOKING)
    assert out["nights"] == 1
    assert out["budget"] == 500.0


def test_schema_is_ref_free_with_constraints_and_descriptions() -> None:
    params = book.spec()["parameters"]
    assert _refs(params) == []
    assert params["required"] == ["trip", "day", "booking_id"]
    props = params["properties"]
    assert props["day"] == {"type": "string", "format": "date", "description": "Departure day."}
    assert props["booking_id"] == {"type": "string", "format": "uuid"}
    assert props["nights"] == {"type": "integer", "minimum": 1, "maximum": 30}
    assert props["budget"]["exclusiveMinimum"] == 0
    passenger = props["trip"]["properties"]["passengers"]["items"]
    assert passenger["title"] == "Passenger"
    assert passenger["properties"]["age"] == {"type": "integer", "minimum": 0, "maximum": 130}
    assert passenger["properties"]["name"]["description"] == "Full name."
    assert passenger["properties"]["seat"]["enum"] == ["aisle", "window"]
    assert props["trip"]["properties"]["klass"]["enum"] == ["economy", "business"]


def test_every_bad_field_is_named_down_the_nested_models() -> None:
    bad = {
        "trip": {
            "origin": "Paris",
            "passengers": [{"name": "", "age": 200, "seat": "middle"}],
            "klass": "first",
        },
        "day": "not a day",
        "booking_id": "1234",
        "nights": 0,
        "budget": -1,
    }
    with pytest.raises(ToolArgumentError) as info:
        book.validate(bad)
    problems = {p.field: p for p in info.value.problems}
    assert set(problems) == {
        "trip.passengers[0].name",
        "trip.passengers[0].age",
        "trip.passengers[0].seat",
        "trip.klass",
        "day",
        "booking_id",
        "nights",
        "budget",
    }
    assert problems["trip.passengers[0].age"].expected == "less than or equal to 130"
    assert problems["trip.passengers[0].age"].given == "200 (integer)"
    assert problems["trip.passengers[0].seat"].expected == "one of 'aisle', 'window'"
    assert problems["trip.klass"].expected == "one of 'economy', 'business'"
    assert problems["nights"].expected == "greater than or equal to 1"
    assert problems["budget"].expected == "greater than 0"
    assert "date" in problems["day"].expected
    assert "UUID" in problems["booking_id"].expected
    message = str(info.value)
    assert "argument 'trip.passengers[0].age': expected less than or equal to 130" in message


def test_missing_nested_field_says_what_it_wanted() -> None:
    with pytest.raises(ToolArgumentError) as info:
        book.validate({**GOOD, "trip": {"passengers": []}})
    (problem,) = info.value.problems
    assert problem.field == "trip.origin"
    assert problem.given is None
    assert problem.expected == "a string"


def test_union_error_names_the_union_once() -> None:
    @tool
    def pick(value: int | datetime.date) -> str:
        return str(value)

    assert pick.validate({"value": "2026-01-02"})["value"] == datetime.date(2026, 1, 2)
    with pytest.raises(ToolArgumentError) as info:
        pick.validate({"value": [1]})
    (problem,) = info.value.problems
    assert problem.field == "value"
    assert problem.expected == "an integer or a date string (YYYY-MM-DD)"


def test_canonical_arguments_of_models_are_stable() -> None:
    a = book.validate(json.dumps(GOOD))
    b = book.validate({**GOOD, "nights": "1", "budget": 500})
    assert book.canonical_arguments(a) == book.canonical_arguments(b)


class Tree(BaseModel):
    children: list[Tree] = []


def test_recursive_model_refused() -> None:
    def grow(tree: Tree) -> None: ...

    with pytest.raises(ToolDefinitionError, match="recursive"):
        tool(grow)


def test_required_field_default_and_factory() -> None:
    @tool
    def tag(
        name: str = Field(min_length=2),
        labels: list[str] = Field(default_factory=list),  # noqa: B008
    ) -> str:
        return name

    assert tag.parameters["required"] == ["name"]
    out = tag.validate({"name": "ab"})
    assert out == {"name": "ab", "labels": []}
    assert tag.validate({"name": "cd"})["labels"] is not out["labels"]
    with pytest.raises(ToolArgumentError, match="at least 2 characters"):
        tag.validate({"name": "a"})
