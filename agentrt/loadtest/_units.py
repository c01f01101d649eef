"""Human text for load-test figures: one place that turns a number and its unit into words.

A report's ``units`` table maps each figure to one of ``"s"``, ``"B"``, ``"ratio"``,
``"count"``, ``"1/s"`` or ``"$"`` (the providers' price currency). :func:`format_value`
renders a value in its unit the way a person reads it (``0.12, "s"`` -> ``"120 ms"``,
``23000, "B"`` -> ``"22.5 KiB"``, ``0.004, "ratio"`` -> ``"0.4%"``); :func:`format_delta`
and :func:`format_change` render a difference between two runs. ``None`` (not measured)
renders as :data:`MISSING`. Both the HTML report and ``agentrt loadtest compare`` use
these functions.

Example::

    >>> format_value(0.12, "s"), format_value(2.5, "s"), format_value(23000.0, "B")
    ('120 ms', '2.5 s', '22.5 KiB')
    >>> format_delta(0.004, "s"), format_change(0.123)
    ('+4 ms', '+12.3%')

Negative numbers use the minus sign U+2212, which lines up with "+" in tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MISSING",
    "format_change",
    "format_delta",
    "format_value",
    "guess_unit",
    "llm_cache_line",
    "number",
    "unit_of",
]

MISSING = "\u2013"
"""What a value that was not measured (``None``) renders as: an en dash."""

_MINUS = "\u2212"  # the typographic minus: lines up with "+" in tables
_BYTE_STEPS = (("GiB", 1024.0**3), ("MiB", 1024.0**2), ("KiB", 1024.0))


def number(value: Any) -> float | None:
    """Return ``value`` as a float when it is a real number (not a bool), else ``None``.

    Strings, bools, ``None`` and other types give ``None``, so callers can treat every
    unusable value as "not measured".
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _plain(x: float) -> str:
    """``x`` with about three significant digits, no exponent, trailing zeros dropped."""
    if not math.isfinite(x):
        return "∞" if x > 0 else (f"{_MINUS}∞" if x < 0 else MISSING)
    ax = abs(x)
    if ax >= 100:
        text = f"{x:,.0f}"
    elif ax >= 10:
        text = f"{x:.1f}"
    elif ax >= 1 or ax == 0:
        text = f"{x:.2f}"
    else:
        decimals = min(2 - math.floor(math.log10(ax)), 9)
        text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace("-", _MINUS)


def format_value(value: Any, unit: str | None) -> str:
    """Render ``value`` in ``unit`` for a person.

    - ``"s"``: milliseconds below one second (``"120 ms"``), seconds otherwise (``"2.5 s"``);
    - ``"B"``: bytes, KiB, MiB or GiB (powers of 1024);
    - ``"ratio"``: a percentage (``0.93`` -> ``"93%"``);
    - ``"count"``: a whole number with thousands separators (``"12,000"``);
    - ``"1/s"``: a rate (``"48.1/s"``);
    - ``"$"``: an amount in the providers' price currency (``"$0.0123"``);
    - any other unit is appended after a space; ``None`` gives the bare number.

    ``None`` and non-numbers other than strings render as :data:`MISSING`; a string is returned
    as is (bools as ``"yes"``/``"no"``). Never raises.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    x = number(value)
    if x is None:
        return MISSING
    if unit == "s":
        return f"{_plain(x * 1000)} ms" if abs(x) < 1 else f"{_plain(x)} s"
    if unit == "B":
        for name, size in _BYTE_STEPS:
            if abs(x) >= size:
                return f"{_plain(x / size)} {name}"
        return f"{_plain(x)} B"
    if unit == "ratio":
        return f"{_plain(x * 100)}%"
    if unit == "count":
        return f"{int(x):,}".replace("-", _MINUS) if x.is_integer() else _plain(x)
    if unit == "1/s":
        return f"{_plain(x)}/s"
    if unit == "$":
        return f"${_plain(x)}".replace(f"${_MINUS}", f"{_MINUS}$")
    return _plain(x) if not unit else f"{_plain(x)} {unit}"


def llm_cache_line(cache: Mapping[str, Any]) -> str | None:
    """A report's ``llm_cache`` section in one line, None when nothing was looked up:
    ``"LLM cache saved $0.42 (120,000 tokens), hit ratio 93%"``."""
    if not number(cache.get("lookups")):
        return None
    return (
        f"LLM cache saved {format_value(cache.get('cost_saved'), '$')} "
        f"({format_value(cache.get('tokens_saved'), 'count')} tokens), "
        f"hit ratio {format_value(cache.get('hit_ratio'), 'ratio')}"
    )


def format_delta(delta: float | None, unit: str | None) -> str:
    """Render a signed difference ``b - a`` in ``unit``: ``"+4 ms"``, minus 1.2 MiB.

    Ratios differ by percentage points (``0.01`` -> ``"+1 pp"``), since a relative change
    of a percentage reads ambiguously. Zero renders as ``"±0"``; ``None`` as :data:`MISSING`.
    """
    if delta is None:
        return MISSING
    if delta == 0:
        return "±0"
    sign = "+" if delta > 0 else _MINUS
    if unit == "ratio":
        return f"{sign}{_plain(abs(delta) * 100)} pp"
    return f"{sign}{format_value(abs(delta), unit)}"


def format_change(fraction: float | None) -> str:
    """Render a relative change (``0.123`` -> ``"+12.3%"``, ``-0.04`` -> minus 4.0%).

    ``None`` (no baseline to compare with) renders as :data:`MISSING`.
    """
    if fraction is None:
        return MISSING
    if fraction == 0:
        return "±0%"
    sign = "+" if fraction > 0 else _MINUS
    return f"{sign}{abs(fraction) * 100:,.1f}%"


def guess_unit(figure: str) -> str:
    """Guess a figure's unit from its name, for reports whose ``units`` table lacks it.

    ``response_*``, ``overhead_*``, ``memory_op_*`` and ``*_s`` durations are seconds;
    ``bytes_*``, ``memory_growth*`` and ``rss*`` are bytes; ``*_ratio`` and ``*_rate`` are
    ratios; ``*_per_s`` is a rate; anything else is a count.
    """
    if figure.endswith("_per_s"):
        return "1/s"
    if figure.startswith(("response_", "overhead_", "memory_op_")) or figure.endswith("_s"):
        return "s"
    if figure.startswith(("bytes_", "memory_growth", "rss")):
        return "B"
    if figure.endswith(("_ratio", "_rate")):
        return "ratio"
    return "count"


def unit_of(report: Mapping[str, Any], figure: str) -> str:
    """The unit of ``figure`` in ``report``: its ``units`` entry, else :func:`guess_unit`."""
    units = report.get("units")
    if isinstance(units, Mapping):
        unit = units.get(figure)
        if isinstance(unit, str) and unit:
            return unit
    return guess_unit(figure)
