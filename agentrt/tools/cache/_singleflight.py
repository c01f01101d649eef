"""Single-flight: concurrent requests for one key share one execution.

The first caller for a key starts the work as a task the :class:`SingleFlight` owns; later
callers for the same key *join* it and all receive its result (or its exception). A caller
that gives up (is cancelled, e.g. by its own timeout) only stops waiting: the shared task
keeps running for the others. When the *last* waiter leaves, the task is cancelled: nobody
wants the result any more, and the key is free at once (a caller arriving while the
cancelled task unwinds starts a new flight instead of joining a cancelled one). A flight
started with :meth:`start_nowait` (refresh-ahead) has no waiter and runs to completion.
:meth:`aclose` cancels and awaits every flight.

Bounded: at most ``max_flights`` keys in flight; beyond that a caller runs its work alone
(counted as ``overflow``), so the bound never blocks anyone.

Example::

    flights = SingleFlight()
    results = await asyncio.gather(*(flights.run("k", fetch) for _ in range(1000)))
    # fetch() ran once; flights.stats()["joins"] == 999
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("pinned", "task", "waiters")

    def __init__(self, task: asyncio.Task[T], pinned: bool) -> None:
        self.task = task
        self.waiters = 0
        self.pinned = pinned


class SingleFlight:
    """Deduplicates concurrent work per key (see the module docstring)."""

    def __init__(self, *, max_flights: int = 10_000) -> None:
        self.max_flights = max_flights
        self._flights: dict[str, _Flight[Any]] = {}
        self._abandoning: set[asyncio.Task[Any]] = set()  # cancelled, still unwinding
        self._executions = 0
        self._joins = 0
        self._abandoned = 0
        self._overflow = 0

    def in_flight(self, key: str) -> bool:
        """True while work for ``key`` is running."""
        return key in self._flights

    async def run(self, key: str, work: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """Run ``work()`` once for all concurrent callers of ``key``.

        Returns ``(result, joined)``; ``joined`` is True when another caller's execution
        was reused. Raises whatever ``work`` raised.
        """
        flight = self._flights.get(key)
        joined = flight is not None
        if flight is None:
            if len(self._flights) >= self.max_flights:
                self._overflow += 1
                return await work(), False
            flight = self._start(key, work, pinned=False)
        else:
            self._joins += 1
        flight.waiters += 1
        try:
            result: T = await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            if not flight.task.done():
                self._leave(key, flight)
            raise
        flight.waiters -= 1
        return result, joined

    def start_nowait(self, key: str, work: Callable[[], Awaitable[Any]]) -> bool:
        """Start ``work()`` for ``key`` in the background unless it is already in flight
        or the bound is reached; returns True when started. Nobody awaits it; errors are
        retrieved and dropped (``work`` reports its own)."""
        if key in self._flights or len(self._flights) >= self.max_flights:
            return False
        self._start(key, work, pinned=True)
        return True

    def _start(self, key: str, work: Callable[[], Awaitable[T]], *, pinned: bool) -> _Flight[T]:
        async def body() -> T:
            return await work()

        task = asyncio.get_running_loop().create_task(body(), name=f"agentrt-singleflight:{key}")
        flight = _Flight(task, pinned)
        self._flights[key] = flight
        self._executions += 1
        task.add_done_callback(lambda t: self._finished(key, flight))
        return flight

    def _finished(self, key: str, flight: _Flight[Any]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        task = flight.task
        self._abandoning.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: waiters got it, or nobody wanted it

    def _leave(self, key: str, flight: _Flight[Any]) -> None:
        flight.waiters -= 1
        if flight.waiters == 0 and not flight.pinned:
            self._abandoned += 1
            if self._flights.get(key) is flight:
                del self._flights[key]
            self._abandoning.add(flight.task)
            flight.task.cancel()

    async def aclose(self) -> None:
        """Cancel every flight and wait for them to finish."""
        tasks = [f.task for f in self._flights.values()] + list(self._abandoning)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._flights.clear()
        self._abandoning.clear()

    def stats(self) -> dict[str, int]:
        """Flights now, executions started, joins, abandoned (cancelled) and overflow."""
        return {
            "in_flight": len(self._flights),
            "executions": self._executions,
            "joins": self._joins,
            "abandoned": self._abandoned,
            "overflow": self._overflow,
        }
