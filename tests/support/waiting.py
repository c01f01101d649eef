"""Waiting for a condition instead of for a fixed time.

A test that sleeps "long enough" for something to happen passes on an idle machine and
fails on a loaded one. :func:`eventually` polls a condition until it holds and fails
only after a bound generous enough that a loaded machine never reaches it (a real
failure still fails, just later).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

#: Seconds to wait for a condition before failing: far beyond any machine load, below
#: pytest-timeout's 120 s so the failure names the condition.
PATIENCE = 60.0


async def eventually(
    predicate: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = PATIENCE,
    what: str = "",
    poll: float = 0.002,
) -> T:
    """Poll ``predicate`` (sync or async) until it returns a truthy value; return it.

    Between polls the loop runs (``asyncio.sleep(poll)``). Raises ``AssertionError``
    naming ``what`` (or the predicate) when it is still falsy after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if loop.time() > deadline:
            name = what or getattr(predicate, "__qualname__", repr(predicate))
            raise AssertionError(f"still not true after {timeout} s: {name}")
        await asyncio.sleep(poll)
