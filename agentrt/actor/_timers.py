"""Timers that deliver messages to actors: ``send_after`` and ``send_interval``.

A timer belongs to the actor it delivers to: it is cancelled when that actor dies. Its
message arrives in ``handle_info`` on the system lane (a full mailbox does not lose it).
An interval timer keeps its phase: the n-th tick is due at ``start + n * interval`` even
when the loop ran late, and ticks missed while the loop was blocked are skipped, not
bunched.

Example::

    class Ticker(Actor):
        async def init(self) -> None:
            self.timer = self.send_interval("tick", 1.0)

        async def handle_info(self, msg: str) -> None:
            ...
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from agentrt.actor._process import INFO

if TYPE_CHECKING:
    from agentrt.actor._node import Node

__all__ = ["TimerRef"]


class TimerRef:
    """A pending timer. ``cancel()`` stops it; ``active`` tells whether it will fire again."""

    __slots__ = ("_due", "_handle", "_interval", "_msg", "_node", "_pid")

    def __init__(self, node: Node, pid: int, msg: Any, delay: float, interval: float) -> None:
        self._node = node
        self._pid = pid
        self._msg = msg
        self._interval = interval
        loop = node._loop
        self._due = loop.time() + delay
        self._handle: asyncio.TimerHandle | None = loop.call_at(self._due, self._fire)

    @property
    def active(self) -> bool:
        """True until the timer fired (one-shot) or was cancelled."""
        return self._handle is not None

    def cancel(self) -> bool:
        """Cancel the timer. Returns True if it was active (a message already delivered
        stays in the mailbox)."""
        handle = self._handle
        if handle is None:
            return False
        handle.cancel()
        self._handle = None
        proc = self._node._procs.get(self._pid)
        if proc is not None and proc.ext is not None and proc.ext.timers:
            proc.ext.timers.discard(self)
        return True

    def _drop(self) -> None:
        """Cancel without touching the owner (it is being finalized)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        node = self._node
        proc = node._procs.get(self._pid)
        if proc is None or self._handle is None:
            self._handle = None
            return
        node._mail.push_system(proc, (INFO, self._msg))
        if self._interval > 0:
            loop = node._loop
            now = loop.time()
            due = self._due + self._interval
            if due <= now:  # the loop was late: skip missed ticks, keep the phase
                due += ((now - due) // self._interval + 1) * self._interval
            self._due = due
            self._handle = loop.call_at(due, self._fire)
        else:
            self._handle = None
            if proc.ext is not None and proc.ext.timers:
                proc.ext.timers.discard(self)

    def __repr__(self) -> str:
        kind = f"every {self._interval:g}s" if self._interval > 0 else "once"
        return f"<TimerRef to #{self._pid} {kind}{'' if self.active else ' inactive'}>"
