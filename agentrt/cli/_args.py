"""Argument types for the command line, checked by the same :class:`~agentrt.bounds.Bounds`
that bounds the matching config field in TOML files, environment variables and code.

Example::

    parser.add_argument("--agents", type=bounded(int, low=1))
    parser.add_argument("--port", type=field_arg(EndpointConfig, "port"))
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from agentrt._configfile import merge, text_value
from agentrt.bounds import Bounds, field_bounds
from agentrt.errors import ConfigError

__all__ = ["add_set_argument", "bounded", "field_arg", "number_arg", "set_table"]


def number_arg(bounds: Bounds, kind: type[int] | type[float] = float) -> Callable[[str], Any]:
    """An argparse ``type`` reading ``kind`` and checking ``bounds`` (NaN, inf and
    out-of-range values are refused with the rule in the message)."""

    def convert(text: str) -> Any:
        try:
            return bounds.parse(text, "value", kind)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None

    return convert


def bounded(
    kind: type[int] | type[float],
    *,
    low: float | None,
    high: float | None = None,
    open_low: bool = False,
    unit: str = "",
) -> Callable[[str], Any]:
    """A converter to ``kind`` that rejects values outside [``low``, ``high``]."""
    return number_arg(Bounds(low=low, high=high, open_low=open_low, unit=unit), kind)


def field_arg(cls: type[Any], name: str) -> Callable[[str], Any]:
    """The argument type of a flag that sets field ``name`` of config dataclass ``cls``:
    the field's own declared Bounds."""
    bounds, kind = field_bounds(cls, name)
    return number_arg(bounds, kind)


def set_table(items: list[str]) -> dict[str, Any]:
    """The flag layer of ``--set KEY=VALUE`` items: ``agents.max_restarts=50`` ->
    ``{"agents": {"max_restarts": 50}}`` (values read as TOML, else kept as text)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        parts = [p.strip() for p in key.split(".")]
        if not sep or not all(parts):
            raise ConfigError("--set", f"expected KEY=VALUE with a dotted KEY, got {item!r}")
        value: Any = text_value(raw.strip())
        for part in reversed(parts):
            value = {part: value}
        out = merge(out, value)
    return out


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): the flag layer of the runtime configuration,
    read by :func:`set_table`."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a runtime config key (dotted, value as TOML: agents.max_restarts=50); repeatable",
    )
