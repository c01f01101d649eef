"""The deadline of a turn: one absolute time, and the one rule that bounds it.

A deadline is an absolute time on the event loop's clock (``loop.time()``), fixed once
when a turn is accepted and carried unchanged down the turn: runtime → agent → other
agents → LLM pool → backend → tools. Every layer with a timeout of its own bounds it with
``deadline(own_timeout, callers_deadline)``: the one place where ``min(own timeout,
caller's deadline)`` is computed. ``remaining(deadline)`` turns it back into seconds for
an API that takes a timeout. None means "no bound" in both.

A base module (like ``agentrt.errors``): every layer may import it.

Example::

    at = earliest(30.0, turn.deadline)           # the earlier of the two
    await asyncio.wait_for(work(), remaining(at))
"""

from __future__ import annotations

import asyncio
from typing import overload

__all__ = ["earliest", "remaining"]


@overload
def earliest(timeout: float, *at: float | None) -> float: ...
@overload
def earliest(timeout: None, *at: float | None) -> float | None: ...
@overload
def earliest(timeout: float | None, *at: float | None) -> float | None: ...


def earliest(timeout: float | None, *at: float | None) -> float | None:
    """The earliest of now + ``timeout`` seconds and the deadlines ``at`` (absolute
    ``loop.time()`` values, e.g. the caller's); None entries are no bound, and None is
    returned when nothing bounds. Call it inside the running loop."""
    best: float | None = None
    for d in at:
        if d is not None and (best is None or d < best):
            best = d
    if timeout is None:
        return best
    own = asyncio.get_running_loop().time() + timeout
    return own if best is None or own < best else best


def remaining(at: float | None) -> float | None:
    """Seconds left until ``at`` (never negative), None for no deadline."""
    if at is None:
        return None
    left = at - asyncio.get_running_loop().time()
    return left if left > 0.0 else 0.0
