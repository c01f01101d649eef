"""Epochs of a conversation's message log: a new one for every new log, and increasing.

A conversation writes each unsealed message under ``K/m/{i}`` tagged with its epoch, and
its head names the epoch; a record of another epoch is a leftover of an earlier log under
``K`` and is never read as a current message (``agentrt.memory._snapshot``). A new epoch
is made when a conversation is created in a store or restored into one; a resumed one
keeps the epoch its head names. Readers compare epochs for equality only, today.

:func:`new_epoch` makes them (63 bits; they used to be random):

- **fenced** (cluster mode, with the :class:`~agentrt.memory.Fence` of the incarnation
  that claimed the agent): ``2**62 | token << 20 | n``, ``n`` counting the fenced epochs
  this process made (modulo 2**20). An incarnation with a later fencing token always
  makes higher epochs than every earlier incarnation, on any node.
- **unfenced**: the wall clock in nanoseconds, raised past the last epoch this process
  made: increasing within a process, and below 2**62 until the year 2116. Two processes
  would collide only by making an epoch for the same key in the same nanosecond; a
  clock stepped back between two processes keeps them unique, not ordered.

Example::

    new_epoch(None)                               # 1765120000123456789, say
    new_epoch(Fence(key="...:dir", token=7))      # 2**62 | 7 << 20 | n
"""

from __future__ import annotations

import os
import time

from agentrt.memory.stores._fencing import Fence

__all__ = ["FENCED_EPOCH", "new_epoch"]

#: The bit set in every fenced epoch (never in a clock-made one before 2116).
FENCED_EPOCH = 1 << 62
_SEQ_BITS = 20


class _EpochSource:
    """The last unfenced epoch and the fenced count of this process (reset in a fork's
    child, so a parent and child do not continue from the same point)."""

    __slots__ = ("last", "seq")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.last = 0
        self.seq = 0

    def make(self, fence: Fence | None) -> int:
        if fence is not None:
            self.seq = (self.seq + 1) % (1 << _SEQ_BITS)
            token = fence.token % (1 << (62 - _SEQ_BITS))  # 2**42 claims: never in practice
            return FENCED_EPOCH | token << _SEQ_BITS | self.seq
        self.last = max(self.last + 1, time.time_ns())
        return self.last


_source = _EpochSource()
os.register_at_fork(after_in_child=_source.reset)


def new_epoch(fence: Fence | None) -> int:
    """A new epoch for a new message log (see the module docs)."""
    return _source.make(fence)
