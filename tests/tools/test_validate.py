from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentrt.tools import ToolArgumentError, tool
from agentrt.tools._tool import canonical_json


class Unit(enum.Enum):
    C = "c"
    F = "f"


@dataclass
class Range:
    low: float
    high: float = 100.0


class Opts(TypedDict):
    verbose: bool


@tool
def lookup(
    city: str,
    days: int = 1,
    unit: Unit = Unit.C,
    mode: Literal["fast", "exact"] = "fast",
    price: Range | None = None,
    opts: Opts | None = None,
    ids: list[int] | None = None,
    weights: dict[str, float] | None = None,
    pair: tuple[int, str] | None = None,
    ratio: float = 1.0,
    anything: Any = None,
) -> str:
    return city


def test_defaults_are_filled_in() -> None:
    out = lookup.validate('{"city": "Paris"}')
    assert out["city"] == "Paris"
    assert out["days"] == 1
    assert out["unit"] is Unit.C
    assert out["mode"] == "fast"


def test_lossless_coercions() -> None:
    out = lookup.validate(
        {
            "city": 75001,
            "days": "3",
            "unit": "f",
            "price": {"low": "2.5", "high": 10},
            "opts": {"verbose": "true"},
            "ids": ["1", 2, 3.0],
            "weights": {"a": 1},
            "pair": [1, "x"],
            "ratio": 2,
        }
    )
    assert out["city"] == "75001"
    assert out["days"] == 3
    assert out["unit"] is Unit.F
    assert out["price"] == Range(low=2.5, high=10.0)
    assert out["opts"] == {"verbose": True}
    assert out["ids"] == [1, 2, 3]
    assert out["weights"] == {"a": 1.0}
    assert out["pair"] == (1, "x")
    assert out["ratio"] == 2.0
    assert isinstance(out["ratio"], float)


def test_enum_by_value_only() -> None:
    assert lookup.validate({"city": "x", "unit": "f"})["unit"] is Unit.F
    with pytest.raises(ToolArgumentError, match="one of 'c', 'f'"):
        lookup.validate({"city": "x", "unit": "C"})


def test_every_bad_field_is_named_with_expected_and_given() -> None:
    with pytest.raises(ToolArgumentError) as info:
        lookup.validate(
            '{"days": "soon", "unit": "kelvin", "ids": [1, "two"], '
            '"price": {"lo": 1}, "extra": true}'
        )
    err = info.value
    assert err.tool == "lookup"
    assert set(err.fields) == {"city", "days", "unit", "ids[1]", "price.lo", "price.low", "extra"}
    by_field = {p.field: p for p in err.problems}
    assert by_field["city"].given is None
    assert by_field["city"].expected == "a string"
    assert by_field["days"].expected == "an integer"
    assert by_field["days"].given == "'soon' (string)"
    assert "'c', 'f'" in by_field["unit"].expected
    assert by_field["extra"].unknown
    message = str(err)
    assert "argument 'city' is missing: expected a string" in message
    assert "argument 'days': expected an integer, got 'soon' (string)" in message
    assert "unknown argument 'extra'" in message


@pytest.mark.parametrize(
    ("arguments", "field", "fragment"),
    [
        ('{"city": "x", "days": [1]}', "days", "an integer"),
        ('{"city": "x", "days": 2.5}', "days", "an integer"),
        ('{"city": "x", "ratio": "nan"}', "ratio", "a number"),
        ('{"city": "x", "mode": "slow"}', "mode", "'fast', 'exact'"),
        ('{"city": "x", "opts": {"verbose": "maybe"}}', "opts.verbose", "boolean"),
        ('{"city": "x", "pair": [1]}', "pair[1]", "a string"),
        ('{"city": "x", "pair": [1, "a", 2]}', "pair", "at most 2 items"),
        ('{"city": "x", "weights": {"a": "heavy"}}', "weights.a", "a number"),
        ('{"city": ["x"]}', "city", "a string"),
    ],
)
def test_type_errors(arguments: str, field: str, fragment: str) -> None:
    with pytest.raises(ToolArgumentError) as info:
        lookup.validate(arguments)
    assert info.value.fields == (field,)
    assert fragment in info.value.problems[0].expected


@pytest.mark.parametrize("text", ["{bad json", "[1, 2]", '"city"', "null"])
def test_non_object_or_malformed_json(text: str) -> None:
    with pytest.raises(ToolArgumentError) as info:
        lookup.validate(text)
    assert info.value.fields == ("",)


def test_empty_arguments_mean_no_arguments() -> None:
    @tool
    def ping() -> str:
        return "pong"

    assert ping.validate("") == {}
    assert ping.validate("{}") == {}


def test_canonical_arguments_are_order_and_form_independent() -> None:
    a = lookup.validate('{"city": "Paris", "days": "2", "unit": "f"}')
    b = lookup.validate({"unit": "f", "days": 2, "city": "Paris", "mode": "fast"})
    assert lookup.canonical_arguments(a) == lookup.canonical_arguments(b)
    c = lookup.validate({"city": "Paris", "days": 3})
    assert lookup.canonical_arguments(a) != lookup.canonical_arguments(c)


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=6))
def test_canonical_json_ignores_key_order(d: dict[str, Any]) -> None:
    reordered = dict(reversed(list(d.items())))
    assert canonical_json(d) == canonical_json(reordered)
