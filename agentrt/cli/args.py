"""Argument types for the command line: numbers within bounds, with the error naming them.

Example::

    parser.add_argument("--agents", type=bounded(int, low=1))
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["bounded"]


def bounded(
    kind: type[int] | type[float], *, low: float, high: float | None = None, unit: str = ""
) -> Callable[[str], float]:
    """A converter to ``kind`` that rejects values outside [``low``, ``high``]."""

    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low:g}{unit}" if high is None else f"within {low:g}..{high:g}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return convert
