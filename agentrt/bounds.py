"""One bounded-number type for every boundary: CLI flags, TOML files, environment
variables and the Python API.

A field declares its bounds once, in its type::

    @dataclass(frozen=True, kw_only=True)
    class TelemetryConfig:
        window_s: Annotated[float, Bounds(low=0, open_low=True, high=86_400)] = 60.0

        def __post_init__(self) -> None:
            check_fields(self)          # the Python API: TelemetryConfig(window_s=nan)

and that one declaration is what :mod:`agentrt._configfile` checks for TOML files and
``AGENTRT_*`` variables, what :func:`check_fields` checks for code constructing the
dataclass, and what the CLI's argument types (``agentrt.cli._args``) check for flags
(``field_bounds(TelemetryConfig, "window_s")``).

Every check rejects, with :class:`~agentrt.errors.ConfigError` naming the key:
bools and non-numbers (``"hot"``), NaN and infinities, a float where an ``int`` is
declared, and values outside the bounds. ``high`` exists to refuse the absurd
(``count = 100000000000``), not to tune.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from agentrt.errors import ConfigError

__all__ = ["PORT", "Bounds", "Port", "bounds_of", "check_fields", "field_bounds"]


@dataclass(frozen=True, slots=True)
class Bounds:
    """Closed (or, with ``open_low``, left-open) interval a number must fall in.

    - ``low`` / ``high`` (None: unbounded on that side; infinities are refused anyway);
    - ``open_low`` (False): ``low`` itself is excluded (``> 0`` rather than ``>= 0``);
    - ``unit``: appended to numbers in error texts (``" s"``, ``" ms"``);
    - ``note``: what the number is, leading the error text (``"is a fraction"``).

    Example::

        Bounds(low=1, high=65_535).check(8100, "port", int)      # 8100
        Bounds(low=0, open_low=True).check(float("nan"), "window_s")  # ConfigError
    """

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    unit: str = ""
    note: str = ""

    def describe(self) -> str:
        """The rule in words: ``">= 1"``, ``"> 0 s"``, ``"within 1..65535"``."""
        if self.low is not None and self.high is not None:
            if self.open_low:
                return f"> {_num(self.low)} and <= {_num(self.high)}{self.unit}"
            return f"within {_num(self.low)}..{_num(self.high)}{self.unit}"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {_num(self.low)}{self.unit}"
        if self.high is not None:
            return f"<= {_num(self.high)}{self.unit}"
        return "a finite number"

    def check(self, value: Any, key: str, kind: type[int] | type[float] = float) -> Any:
        """``value`` when it is a finite ``kind`` within the bounds; else ConfigError."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            want = "an integer" if kind is int else "a number"
            raise ConfigError(key, f"expected {want}, got {type(value).__name__} {value!r}")
        if kind is int and not isinstance(value, int):
            raise ConfigError(key, f"expected an integer, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(key, f"must be a finite number, got {value!r}")
        low, high = self.low, self.high
        below = low is not None and (value < low or (self.open_low and value == low))
        if below or (high is not None and value > high):
            lead = f"{self.note}, must" if self.note else "must"
            raise ConfigError(key, f"{lead} be {self.describe()}, got {_num(value)}{self.unit}")
        return value

    def parse(self, text: str, key: str, kind: type[int] | type[float] = float) -> Any:
        """``text`` read as ``kind`` (the way a flag or a variable arrives), then checked."""
        try:
            value = kind(text.strip())
        except ValueError:
            want = "an integer" if kind is int else "a number"
            raise ConfigError(key, f"expected {want}, got {text!r}") from None
        return self.check(value, key, kind)


PORT = Bounds(low=0, high=65_535)
Port = Annotated[int, PORT]
"""A TCP port; 0 lets the OS pick a free one."""


def _num(x: float) -> str:
    """``1,000,000`` for whole numbers, ``0.5`` otherwise (never an exponent for ints)."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e18 else f"{x:g}"


def bounds_of(tp: Any) -> tuple[Bounds, type[int] | type[float]] | None:
    """The Bounds declared in the type ``tp`` (``Annotated[...]``, possibly ``| None``)
    and the number kind it annotates; None when ``tp`` declares none."""
    if get_origin(tp) is Annotated:
        base, *extras = get_args(tp)
        for extra in extras:
            if isinstance(extra, Bounds):
                return extra, int if base is int else float
        return None
    if get_origin(tp) in (typing.Union, types.UnionType):
        for arg in get_args(tp):
            found = bounds_of(arg)
            if found is not None:
                return found
    return None


@functools.cache
def _declared(cls: Hashable) -> tuple[tuple[str, Bounds, type[int] | type[float]], ...]:
    hints = get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(typing.cast(Any, cls)):
        found = bounds_of(hints.get(f.name))
        if found is not None:
            out.append((f.name, *found))
    return tuple(out)


def check_fields(obj: Any) -> None:
    """Check every field of the dataclass instance ``obj`` that declares Bounds (None
    passes: optional fields say so in their type). ConfigError names the field."""
    for name, bounds, kind in _declared(typing.cast(Hashable, type(obj))):
        value = getattr(obj, name)
        if value is not None:
            bounds.check(value, name, kind)


def field_bounds(cls: type[Any], name: str) -> tuple[Bounds, type[int] | type[float]]:
    """The Bounds and number kind declared for field ``name`` of dataclass ``cls``."""
    for field_name, bounds, kind in _declared(typing.cast(Hashable, cls)):
        if field_name == name:
            return bounds, kind
    raise LookupError(f"{cls.__name__}.{name} declares no Bounds")
