"""The deadline of a turn: one absolute time, and the one rule that bounds it.

A deadline is an absolute time on the event loop's clock (``loop.time()``), fixed once
when a turn is accepted and carried unchanged down the turn: runtime → agent → other
agents → LLM pool → backend → tools. Every layer with a timeout of its own bounds it with
``deadline(own_timeout, callers_deadline)``: the one place where ``min(own timeout,
caller's deadline)`` is computed. ``remaining(deadline)`` turns it back into seconds for
an API that takes a timeout. None means "no bound" in both.

A base module (like ``agentrt.errors``): every layer may import it.

Example::

    at = deadline(30.0, turn.deadline)           # the earlier of the two
    await asyncio.wait_for(work(), remaining(at))
"""

from __future__ import annotations

import asyncio

__all__ = ["deadline", "remaining"]


def deadline(timeout: float | None, at: float | None = None) -> float | None:
    """The earlier of ``at`` (a caller's deadline, ``loop.time()``) and now + ``timeout``
    seconds; None when both are None (no bound). Call it inside the running loop."""
    if timeout is None:
        return at
    own = asyncio.get_running_loop().time() + timeout
    return own if at is None or own < at else at


def remaining(at: float | None) -> float | None:
    """Seconds left until ``at`` (never negative), None for no deadline."""
    if at is None:
        return None
    left = at - asyncio.get_running_loop().time()
    return left if left > 0.0 else 0.0
