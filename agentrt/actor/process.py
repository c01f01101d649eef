"""The node's per-actor record (private).

A ``_Proc`` is what the process table holds for each live actor. It is kept small because
a node holds up to ~100,000 of them: the mailbox deque exists only while messages are
queued, and everything most actors never use (links, monitors, names, timers, exit waiters,
deferred callers) lives in a ``_Ext`` created on first use.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from agentrt.actor.actor import Actor, Caller
    from agentrt.actor.ref import ActorRef
    from agentrt.actor.timers import TimerRef

# Mailbox item kinds: items are tuples whose first element is the kind.
CALL: Final = 0  # (CALL, msg, caller)
CAST: Final = 1  # (CAST, msg)
INFO: Final = 2  # (INFO, msg)
EXIT: Final = 3  # (EXIT, Exit): a trapped exit signal (system lane)
STOP: Final = 4  # (STOP, reason): a stop request (system lane)
TERMINATE: Final = 5  # (TERMINATE, reason): synthesized, never queued

# Scheduling states.
IDLE: Final = 0  # no messages being processed, not in the run queue
QUEUED: Final = 1  # in the node's run queue
RUNNING: Final = 2  # a worker is processing it
INITIALIZING: Final = 3  # init() has not finished: messages wait


class _Ext:
    """Rarely used per-actor state, allocated on first use."""

    __slots__ = (
        "deferred",
        "links",
        "monitored_by",
        "monitoring",
        "names",
        "parent",
        "timers",
        "waiters",
    )

    def __init__(self) -> None:
        self.links: set[int] = set()  # pids
        self.monitored_by: dict[Any, ActorRef] = {}  # MonitorRef -> watcher
        self.monitoring: dict[Any, int] = {}  # MonitorRef -> target pid
        self.names: list[tuple[bool, Any]] = []  # (unique?, name or group)
        self.parent: ActorRef | None = None
        self.timers: set[TimerRef] = set()
        self.waiters: list[asyncio.Future[Any]] = []
        self.deferred: set[Caller] = set()


class _Proc:
    """One live actor as seen by its node."""

    __slots__ = (
        "actor",
        "capacity",
        "current",
        "dropped",
        "exit_reason",
        "ext",
        "max_depth",
        "mbox",
        "overflow",
        "putters",
        "ref",
        "sched",
        "stop_req",
        "task",
        "trap",
    )

    def __init__(self, ref: ActorRef, actor: Actor, capacity: int, overflow: str) -> None:
        self.ref = ref
        self.actor = actor
        self.mbox: deque[tuple[Any, ...]] | None = None
        self.sched = INITIALIZING
        self.capacity = capacity
        self.overflow = overflow
        self.max_depth = 0
        self.dropped = 0
        self.exit_reason: Any = None  # None while alive
        self.trap = type(actor).trap_exits
        self.current: tuple[Any, ...] | None = None  # the item being handled
        self.stop_req: Any = None  # reason requested by Actor.stop()
        self.task: asyncio.Task[Any] | None = None  # owning task while suspended
        # senders awaiting space under the "wait" policy: (item, future or None for calls)
        self.putters: deque[tuple[tuple[Any, ...], asyncio.Future[None] | None]] | None = None
        self.ext: _Ext | None = None

    @property
    def x(self) -> _Ext:
        """The extension record, created on first use."""
        ext = self.ext
        if ext is None:
            ext = self.ext = _Ext()
        return ext

    def forget_deferred(self, caller: Caller) -> None:
        if self.ext is not None:
            self.ext.deferred.discard(caller)
