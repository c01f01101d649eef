"""Choosing a replica: least outstanding requests, with agent affinity.

Replicas of one model are interchangeable, but a server that has just seen an agent's
conversation holds its prefix in cache. :class:`Balancer` therefore:

- without an agent id: picks the available replica with the fewest outstanding requests
  (ties broken round-robin);
- with an agent id: walks a consistent-hash ring (``vnodes`` points per replica) from the
  agent's hash and takes the first available replica whose load is within
  ``ceil(mean * (1 + slack)) + 1`` ("consistent hashing with bounded loads"), so an agent
  sticks to one replica unless that replica is overloaded or its breaker is open; adding
  or removing a replica moves only about ``1/n`` of the agents.

Pure logic: the caller passes the current outstanding counts and availability.

Example::

    balancer = Balancer(3)
    i = balancer.pick("agent-7", outstanding=[4, 0, 2], available=[True, True, True])
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Sequence

__all__ = ["Balancer", "stable_hash"]


def stable_hash(key: str) -> int:
    """A 64-bit hash of ``key``, the same in every process (unlike ``hash()``)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


class Balancer:
    """Least-outstanding choice with bounded-load consistent hashing (see module doc)."""

    def __init__(self, replicas: int, *, vnodes: int = 64, slack: float = 0.25) -> None:
        if replicas < 1:
            raise ValueError("a balancer needs at least one replica")
        self.replicas = replicas
        self.slack = slack
        ring = sorted(
            (stable_hash(f"replica-{r}-vnode-{v}"), r)
            for r in range(replicas)
            for v in range(vnodes)
        )
        self._points = [p for p, _ in ring]
        self._owners = [r for _, r in ring]
        self._next = 0

    def preferred(self, agent_id: str) -> int:
        """The replica ``agent_id`` maps to on the ring (ignoring load and availability)."""
        i = bisect.bisect(self._points, stable_hash(agent_id)) % len(self._points)
        return self._owners[i]

    def pick(
        self, agent_id: str | None, outstanding: Sequence[int], available: Sequence[bool]
    ) -> int | None:
        """The replica to use, or None when no replica is available."""
        if self.replicas == 1:
            return 0 if available[0] else None
        if agent_id is None:
            return self._least(outstanding, available)
        live = [n for n, ok in zip(outstanding, available, strict=True) if ok]
        if not live:
            return None
        bound = math.ceil((sum(live) + 1) / len(live) * (1 + self.slack)) + 1
        start = bisect.bisect(self._points, stable_hash(agent_id))
        size = len(self._points)
        seen: set[int] = set()
        for k in range(size):
            r = self._owners[(start + k) % size]
            if r in seen:
                continue
            seen.add(r)
            if available[r] and outstanding[r] < bound:
                return r
            if len(seen) == self.replicas:
                break
        return self._least(outstanding, available)

    def _least(self, outstanding: Sequence[int], available: Sequence[bool]) -> int | None:
        best: int | None = None
        n = self.replicas
        self._next = (self._next + 1) % n
        for k in range(n):
            r = (self._next + k) % n
            if available[r] and (best is None or outstanding[r] < outstanding[best]):
                best = r
        return best
