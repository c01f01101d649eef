"""Mailbox configuration and statistics.

Every actor's mailbox is bounded. What happens when a user message (call, cast or info)
arrives at a full mailbox is the actor's overflow policy:

- ``"wait"`` (default): ``await ref.cast()`` / ``await ref.call()`` wait for space
  (backpressure); ``cast_nowait`` and ``send`` cannot wait and raise ``MailboxFull``.
- ``"reject"``: the sender gets ``MailboxFull`` at once.
- ``"drop_oldest"``: the oldest user message is discarded to make room (a discarded call's
  caller gets ``MailboxFull``); counted in ``drops``.
- ``"drop_newest"``: the arriving message is discarded (a call raises ``MailboxFull``);
  counted in ``drops``.

Exit signals, stop requests, monitor ``Down`` messages and timer messages travel on the
system lane: they ignore the capacity and are never dropped.

``Mailboxes`` holds these delivery rules for one node (private to the actor core): a
sender ``offer``s a message; under ``wait`` it then queues as a waiting sender
(``wait_for_space``) and is admitted in order as the actor takes messages
(``admit_waiting``). A mailbox is None when empty, the item itself when it holds one
message, and a deque from the second on (``agentrt.actor._process``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from agentrt.actor._errors import MailboxFull
from agentrt.actor._process import CALL, EXIT, IDLE, INFO, STOP, mailbox_len
from agentrt.errors import ConfigError

if TYPE_CHECKING:
    from agentrt.actor._process import _Proc

__all__ = [
    "MailboxConfig",
    "MailboxStats",
    "Mailboxes",
    "Overflow",
    "admit_waiting",
    "append",
    "wait_for_space",
]

Overflow = Literal["wait", "reject", "drop_oldest", "drop_newest"]
_POLICIES: frozenset[str] = frozenset(get_args(Overflow))


@dataclass(frozen=True, kw_only=True, slots=True)
class MailboxConfig:
    """How an actor's mailbox is bounded.

    - ``capacity``: maximum number of queued user messages (default 1024).
    - ``overflow``: policy at capacity (default ``"wait"``, see module docs).

    Example::

        await node.spawn(Worker, mailbox=MailboxConfig(capacity=64, overflow="reject"))
    """

    capacity: int = 1024
    overflow: Overflow = "wait"

    def __post_init__(self) -> None:
        if type(self.capacity) is not int or self.capacity < 1:
            raise ConfigError("mailbox.capacity", f"must be an int >= 1, got {self.capacity!r}")
        if self.overflow not in _POLICIES:
            raise ConfigError(
                "mailbox.overflow", f"must be one of {sorted(_POLICIES)}, got {self.overflow!r}"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class MailboxStats:
    """A snapshot of one mailbox: current ``depth``, the ``max_depth`` seen, messages
    ``dropped`` by a drop policy, its ``capacity`` and ``overflow`` policy."""

    depth: int
    max_depth: int
    dropped: int
    capacity: int
    overflow: Overflow


class Mailboxes:
    """The delivery rules of one node's mailboxes (see the module docs). ``activate``
    queues an idle actor that has just received a message (the node's scheduler)."""

    __slots__ = ("_activate",)

    def __init__(self, activate: Callable[[_Proc], None]) -> None:
        self._activate = activate

    def offer(self, proc: _Proc, item: tuple[Any, ...]) -> bool:
        """Queue a user message. False: the sender must wait for space (policy "wait");
        ``MailboxFull`` under "reject" (and for a call under "drop_newest")."""
        mb = proc.mbox
        if mb is None:  # the common case: an idle actor gets one message, nothing allocated
            if proc.putters is not None:
                return self._overflow(proc, item)
            proc.mbox = item
            if proc.max_depth == 0:
                proc.max_depth = 1
            if proc.sched == IDLE:
                self._activate(proc)
            return True
        if type(mb) is tuple:
            if proc.capacity <= 1 or proc.putters is not None:
                return self._overflow(proc, item)
            proc.mbox = deque((mb, item))
            if proc.max_depth < 2:
                proc.max_depth = 2
            return True
        n = len(mb)
        if n >= proc.capacity or proc.putters is not None:
            return self._overflow(proc, item)
        mb.append(item)
        if n >= proc.max_depth:
            proc.max_depth = n + 1
        if proc.sched == IDLE:
            self._activate(proc)
        return True

    def _overflow(self, proc: _Proc, item: tuple[Any, ...]) -> bool:
        if mailbox_len(proc.mbox) < proc.capacity:  # only senders waiting: keep their order
            return False
        policy = proc.overflow
        if policy == "wait":
            return False
        if policy == "reject":
            raise MailboxFull(proc.ref, proc.capacity)
        proc.dropped += 1
        if policy == "drop_newest":
            if item[0] == CALL:
                raise MailboxFull(proc.ref, proc.capacity)
            return True
        mb = proc.as_deque()
        for i, old in enumerate(mb):  # drop_oldest: the oldest user message
            if old[0] <= INFO:
                del mb[i]
                if old[0] == CALL:
                    old[2]._fail(MailboxFull(proc.ref, proc.capacity))
                break
        mb.append(item)
        if proc.sched == IDLE:
            self._activate(proc)
        return True

    def push_system(self, proc: _Proc, item: tuple[Any, ...]) -> None:
        """Queue on the system lane: ignores capacity, never dropped. A stop request, or
        the parent's exit signal, to an actor whose lazy ``handle_continue`` has not run
        yet drops it: the actor terminates without ever loading (``Continue(lazy=True)``)."""
        if proc.lazy is not None and _terminates(proc, item):
            proc.lazy = None
        append(proc, item)
        if proc.sched == IDLE:
            self._activate(proc)


def _terminates(proc: _Proc, item: tuple[Any, ...]) -> bool:
    """``item`` (system lane) makes ``proc`` terminate: a stop, or its parent's exit."""
    if item[0] == STOP:
        return True
    ext = proc.ext
    return item[0] == EXIT and ext is not None and item[1].sender == ext.parent


def append(proc: _Proc, item: tuple[Any, ...]) -> int:
    """Add ``item`` whatever the mailbox's form; returns the new depth."""
    mb = proc.mbox
    if mb is None:
        proc.mbox = item
        depth = 1
    else:
        queue = proc.as_deque() if type(mb) is tuple else mb
        queue.append(item)
        depth = len(queue)
    if depth > proc.max_depth:
        proc.max_depth = depth
    return depth


def wait_for_space(proc: _Proc, item: tuple[Any, ...], fut: asyncio.Future[None] | None) -> None:
    """Queue a sender refused by ``offer`` under "wait": ``fut`` (None for a call,
    whose caller is in ``item``) is resolved when its message is admitted."""
    if proc.putters is None:
        proc.putters = deque()
    proc.putters.append((item, fut))


def admit_waiting(proc: _Proc) -> None:
    """Move the first live waiting sender's message into the mailbox (space freed)."""
    putters = proc.putters
    while putters:
        item, fut = putters.popleft()
        if fut is None:
            if item[2].answered:  # the call timed out or was cancelled meanwhile
                continue
        elif fut.done():
            continue
        else:
            fut.set_result(None)
        append(proc, item)
        break
    if not putters:
        proc.putters = None
