"""Call deadlines: call timeouts on a timing wheel, and the turn-wide deadline rule.

The turn-wide rule (``earliest``, ``remaining``) lives in ``agentrt.deadline``, a base
module every layer may import; it is re-exported here for the actor core.

Call timeouts (``CallDeadlines``, private): one ``loop.call_later`` per call would cost
a Python ``TimerHandle`` and a heap push with Python-level comparisons on every call, and
cancelled handles linger in the heap. Instead, pending calls are grouped by deadline into
10 ms slots, each a dict, with one timer per non-empty slot: adding and removing a call
are a dict insert and delete, and a call's ``CallTimeout`` fires between 0 and 10 ms
after its deadline.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from agentrt.deadline import earliest, remaining

if TYPE_CHECKING:
    from agentrt.actor._actor import Caller

__all__ = ["CallDeadlines", "earliest", "remaining"]

RESOLUTION = 0.01  # seconds per slot


class CallDeadlines:
    """The pending calls of one node, by deadline slot."""

    __slots__ = ("_expired", "_handles", "_loop", "_slots", "_time")

    def __init__(self, loop: asyncio.AbstractEventLoop, expired: type[Exception]) -> None:
        self._loop = loop
        self._time = loop.time  # bound once: ``add`` runs on every call
        self._expired = expired
        self._slots: dict[int, dict[Caller, None]] = {}
        self._handles: dict[int, asyncio.TimerHandle] = {}

    def add(self, caller: Caller, timeout: float) -> None:
        """Arm ``caller``'s timeout: its future gets ``expired()`` when it passes."""
        slot = int((self._time() + timeout) / RESOLUTION) + 1
        bucket = self._slots.get(slot)
        if bucket is None:
            bucket = self._slots[slot] = {}
            self._handles[slot] = self._loop.call_at(slot * RESOLUTION, self._fire, slot)
        bucket[caller] = None
        caller._slot = slot

    def discard(self, caller: Caller) -> None:
        """Disarm ``caller``'s timeout (no-op when it already fired)."""
        bucket = self._slots.get(caller._slot)
        if bucket is not None:
            bucket.pop(caller, None)

    def _fire(self, slot: int) -> None:
        self._handles.pop(slot, None)
        bucket = self._slots.pop(slot, None)
        if not bucket:
            return
        for caller in bucket:
            fut: Any = caller._fut
            if fut is not None and not fut.done():
                fut.set_exception(self._expired())

    def __len__(self) -> int:
        return sum(len(b) for b in self._slots.values())

    def close(self) -> None:
        """Cancel every timer (the node is closed: its callers were failed already)."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        self._slots.clear()
