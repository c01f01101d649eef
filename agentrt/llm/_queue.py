"""Admission to a provider: a concurrency limit and a bounded, fair wait queue.

:class:`FairQueue` hands out at most ``limit`` *slots* at once. A caller that finds every
slot taken waits in the queue:

- **priorities**: a waiter of a higher :class:`~agentrt.llm._types.Priority` is always
  served before any waiter of a lower one;
- **fairness**: within one priority, each agent has its own FIFO sub-queue and the
  sub-queues are served round-robin, so an agent flooding the queue with 1,000 requests
  delays a quiet agent's single request by at most one request per other waiting agent;
- **bounded**: at most ``max_waiting`` callers wait. When the queue is full, a caller with
  a deadline waits (in arrival order) for a place until that deadline and then gets
  :class:`Overloaded`; a caller without a deadline gets it at once;
- **deadlines**: a caller still waiting at its deadline gets :class:`DeadlineExceeded`;
- **cancellation**: a cancelled waiter leaves the queue at once; a slot granted to a
  caller that was cancelled in the same instant is passed on to the next waiter.

Example::

    queue = FairQueue("openai", limit=64, max_waiting=1024)
    await queue.acquire("agent-7", Priority.NORMAL, deadline=loop.time() + 30)
    try:
        ...  # send the request
    finally:
        queue.release()
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from typing import Any

from agentrt.llm._errors import DeadlineExceeded, Overloaded
from agentrt.llm._types import Priority

__all__ = ["FairQueue"]

_NO_AGENT = ""


class _Level:
    """One priority level: per-agent FIFOs served round-robin."""

    __slots__ = ("agents", "size")

    def __init__(self) -> None:
        self.agents: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self.size = 0

    def push(self, agent: str, waiter: asyncio.Future[None]) -> None:
        fifo = self.agents.get(agent)
        if fifo is None:
            fifo = self.agents[agent] = deque()
        fifo.append(waiter)
        self.size += 1

    def pop(self) -> asyncio.Future[None]:
        agent, fifo = self.agents.popitem(last=False)
        waiter = fifo.popleft()
        if fifo:
            self.agents[agent] = fifo  # to the back of the round
        self.size -= 1
        return waiter

    def remove(self, agent: str, waiter: asyncio.Future[None]) -> bool:
        fifo = self.agents.get(agent)
        if fifo is None or waiter not in fifo:
            return False
        fifo.remove(waiter)
        if not fifo:
            del self.agents[agent]
        self.size -= 1
        return True


class FairQueue:
    """A concurrency limit with a bounded, fair, prioritized wait queue (see module doc)."""

    def __init__(self, name: str, *, limit: int, max_waiting: int) -> None:
        if limit < 1 or max_waiting < 0:
            raise ValueError("limit must be >= 1 and max_waiting >= 0")
        self.name = name
        self.limit = limit
        self.max_waiting = max_waiting
        self.active = 0
        self._levels = {p: _Level() for p in sorted(Priority, reverse=True)}
        self._waiting = 0
        self._overflow: deque[asyncio.Future[None]] = deque()
        self.admitted = 0
        self.queued = 0
        self.overloaded = 0
        self.expired = 0
        self.max_depth = 0

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot (not counting those waiting for a queue place)."""
        return self._waiting

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody waits; never waits. True when taken."""
        if self.active < self.limit and not self._waiting:
            self.active += 1
            self.admitted += 1
            return True
        return False

    async def acquire(
        self, agent_id: str | None, priority: Priority, deadline: float | None
    ) -> None:
        """Wait for a slot; pair every successful call with :meth:`release`."""
        if self.active < self.limit and not self._waiting:
            self.active += 1
            self.admitted += 1
            return
        if self._waiting >= self.max_waiting:
            await self._wait_for_place(deadline)
            if self.active < self.limit and not self._waiting:
                self.active += 1
                self.admitted += 1
                return
        await self._wait_for_slot(agent_id or _NO_AGENT, priority, deadline)

    async def _wait_for_place(self, deadline: float | None) -> None:
        """Wait (FIFO) until the queue has room, or raise Overloaded at the deadline."""
        loop = asyncio.get_running_loop()
        if deadline is None or deadline <= loop.time():
            self.overloaded += 1
            raise Overloaded(self.name, self.max_waiting)
        while self._waiting >= self.max_waiting:
            place: asyncio.Future[None] = loop.create_future()
            self._overflow.append(place)
            try:
                async with asyncio.timeout_at(deadline):
                    await place
            except BaseException as exc:
                self._leave_overflow(place)
                if isinstance(exc, TimeoutError):
                    self.overloaded += 1
                    raise Overloaded(self.name, self.max_waiting) from None
                raise

    def _leave_overflow(self, place: asyncio.Future[None]) -> None:
        """A caller stopped waiting for a place: forget it, or pass its wake-up on."""
        if place.done() and not place.cancelled():
            self._wake_overflow()
            return
        try:
            self._overflow.remove(place)
        except ValueError:
            pass

    async def _wait_for_slot(self, agent: str, priority: Priority, deadline: float | None) -> None:
        loop = asyncio.get_running_loop()
        if deadline is not None and deadline <= loop.time():
            self.expired += 1
            raise DeadlineExceeded(self.name, "waiting in the queue")
        waiter: asyncio.Future[None] = loop.create_future()
        level = self._levels[priority]
        level.push(agent, waiter)
        self._waiting += 1
        self.queued += 1
        self.max_depth = max(self.max_depth, self._waiting)
        try:
            if deadline is None:
                await waiter
            else:
                async with asyncio.timeout_at(deadline):
                    await waiter
        except BaseException as exc:
            self._abandon(agent, level, waiter)
            if isinstance(exc, TimeoutError):
                self.expired += 1
                raise DeadlineExceeded(self.name, "waiting in the queue") from None
            raise
        self.admitted += 1

    def _abandon(self, agent: str, level: _Level, waiter: asyncio.Future[None]) -> None:
        """A waiter left (cancelled or expired): free its place, or pass on its slot."""
        if level.remove(agent, waiter):
            self._waiting -= 1
            self._wake_overflow()
        elif waiter.done() and not waiter.cancelled():
            self.release()  # it was granted a slot it will never use

    def _wake_overflow(self) -> None:
        while self._overflow:
            place = self._overflow.popleft()
            if not place.done():
                place.set_result(None)
                return

    def release(self) -> None:
        """Give a slot back; it goes to the next waiter, if any."""
        if not self._waiting:
            self.active -= 1
            return
        for level in self._levels.values():
            if level.size:
                waiter = level.pop()
                self._waiting -= 1
                self._wake_overflow()
                if waiter.done():  # cancelled while being chosen: try the next one
                    self.release()
                    return
                waiter.set_result(None)  # the slot passes on: active is unchanged
                return
        self.active -= 1  # pragma: no cover - _waiting and level sizes agree

    def stats(self) -> dict[str, Any]:
        """Counters: active, waiting, overflow, admitted, queued, overloaded, expired..."""
        return {
            "limit": self.limit,
            "max_waiting": self.max_waiting,
            "active": self.active,
            "waiting": self._waiting,
            "waiting_for_place": len(self._overflow),
            "max_depth": self.max_depth,
            "admitted": self.admitted,
            "queued": self.queued,
            "overloaded": self.overloaded,
            "expired": self.expired,
            "waiting_agents": sum(len(level.agents) for level in self._levels.values()),
        }
