"""Quantities with units in scenario files: durations, sizes, ratios.

- durations: a number of seconds (``2``, ``0.5``) or text with a unit: ``"250ms"``,
  ``"2s"``, ``"1.5m"``, ``"1h"``, ``"800us"``;
- sizes: a number of bytes or text: ``"512B"``, ``"64KB"``, ``"100MB"``, ``"1GB"`` (powers
  of 1024, also spelt ``KiB``/``MiB``/``GiB``);
- ratios: a number or a percentage: ``0.001``, ``"0.1%"``.

Every parser raises :class:`~agentrt.errors.ConfigError` naming ``key`` and what was
wrong. Values are returned in base units (seconds, bytes, fractions).

Example::

    parse_duration("250ms", key="think_time.mean")   # 0.25
    parse_quantity("100MB", "B", key="thresholds[2]")  # 104857600.0
"""

from __future__ import annotations

import math
import re

from agentrt.errors import ConfigError

__all__ = [
    "DURATION_UNITS",
    "MAX_SECONDS",
    "SIZE_UNITS",
    "parse_duration",
    "parse_quantity",
    "set_seconds",
]

DURATION_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
SIZE_UNITS = {
    "b": 1.0,
    "kb": 1024.0,
    "kib": 1024.0,
    "mb": 1024.0**2,
    "mib": 1024.0**2,
    "gb": 1024.0**3,
    "gib": 1024.0**3,
}
MAX_SECONDS = 30 * 86_400.0
"""The longest duration a scenario may give (a longer one is a typo)."""
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµ%]*)\s*$")


def _split(value: object, key: str) -> tuple[float, str]:
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a number or a quantity such as '2s', got {value!r}")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    elif isinstance(value, str):
        match = _NUMBER.match(value)
        if match is None:
            raise ConfigError(key, f"cannot read {value!r} as a number with a unit")
        number, unit = float(match.group(1)), match.group(2)
    else:
        raise ConfigError(key, f"expected a number or a quantity text, got {type(value).__name__}")
    if not math.isfinite(number):
        raise ConfigError(key, f"must be finite, got {value!r}")
    return number, unit


def parse_duration(value: object, *, key: str, allow_zero: bool = True) -> float:
    """Seconds from ``value`` (see the module docs); negative values and values above
    :data:`MAX_SECONDS` (30 days) are errors."""
    number, unit = _split(value, key)
    if unit and unit not in DURATION_UNITS:
        raise ConfigError(
            key, f"unknown duration unit {unit!r} in {value!r}; use one of {list(DURATION_UNITS)}"
        )
    seconds = number * DURATION_UNITS.get(unit, 1.0)
    if seconds > MAX_SECONDS:  # also "1e308h", which overflows to infinity
        raise ConfigError(key, f"must be at most 30 days, got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(key, f"must be {bound}, got {value!r}")
    return seconds


def parse_quantity(value: object, unit: str, *, key: str) -> float:
    """``value`` in the base unit ``unit``: ``"s"`` (durations), ``"B"`` (sizes),
    ``"ratio"`` (a fraction or a percentage) or ``"count"``/``"1/s"``/``"$"`` (plain
    numbers)."""
    if unit == "s":
        return parse_duration(value, key=key)
    number, suffix = _split(value, key)
    if unit == "B":
        scale = SIZE_UNITS.get(suffix.lower()) if suffix else 1.0
        if scale is None:
            raise ConfigError(
                key, f"unknown size unit {suffix!r} in {value!r}; use B, KB, MB or GB"
            )
        return number * scale
    if unit == "ratio":
        if suffix == "%":
            return number / 100.0
        if suffix:
            raise ConfigError(key, f"a ratio is a fraction or a percentage, got {value!r}")
        return number
    if suffix:
        raise ConfigError(key, f"expected a plain number, got {value!r}")
    return number


def set_seconds(obj: object, *names: str, allow_zero: bool = True) -> None:
    """Replace each duration field of the frozen ``obj`` by its value in seconds."""
    for name in names:
        value = getattr(obj, name)
        if value is not None:
            seconds = parse_duration(value, key=name, allow_zero=allow_zero)
            object.__setattr__(obj, name, seconds)
