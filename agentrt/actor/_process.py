"""The node's per-actor record (private).

A ``_Proc`` is what the process table holds for each live actor. It is kept small because
a node holds up to ~100,000 of them: everything most actors never use (links, monitors,
names, timers, exit waiters, deferred callers) lives in a ``_Ext`` created on first use.

The mailbox (``mbox``) is None when empty, the item itself when it holds exactly one
message (the common case: a request, a reply, one cast), and a deque only from the second
message on. An idle actor that receives one message then allocates nothing: a deque per
activation (a ~600-byte, GC-tracked block) made fan-out to 10,000 actors slower than the
naive one-task-per-actor design.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from agentrt.actor._actor import Actor, Caller
    from agentrt.actor._ref import ActorRef
    from agentrt.actor._timers import TimerRef

# Mailbox item kinds: items are tuples whose first element is the kind.
CALL: Final = 0  # (CALL, msg, caller)
CAST: Final = 1  # (CAST, msg)
INFO: Final = 2  # (INFO, msg)
EXIT: Final = 3  # (EXIT, Exit): a trapped exit signal (system lane)
STOP: Final = 4  # (STOP, reason): a stop request (system lane)
TERMINATE: Final = 5  # (TERMINATE, reason): synthesized, never queued
CONTINUE: Final = 6  # (CONTINUE, arg): handle_continue, queued ahead of every message

# Scheduling states.
IDLE: Final = 0  # no messages being processed, not in the run queue
QUEUED: Final = 1  # in the node's run queue
RUNNING: Final = 2  # a worker is processing it
INITIALIZING: Final = 3  # init() has not finished: messages wait


def mailbox_len(mb: Any) -> int:
    """Number of messages in a mailbox (None, one item, or a deque)."""
    if mb is None:
        return 0
    return 1 if type(mb) is tuple else len(mb)


def mailbox_items(mb: Any) -> Iterable[tuple[Any, ...]]:
    """The messages of a mailbox, oldest first."""
    if mb is None:
        return ()
    return (mb,) if type(mb) is tuple else mb


class _Ext:
    """Rarely used per-actor state, allocated on first use; each container in it is
    created only when something is added (readers treat None as empty). A supervised
    actor with a name and a parent link then costs two small containers, not seven:
    fewer bytes, and fewer objects for the garbage collector to walk."""

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
        self.links: set[int] | None = None  # pids
        self.monitored_by: dict[Any, ActorRef] | None = None  # MonitorRef -> watcher
        self.monitoring: dict[Any, int] | None = None  # MonitorRef -> target pid
        self.names: list[tuple[bool, Any]] | None = None  # (unique?, name or group)
        self.parent: ActorRef | None = None
        self.timers: set[TimerRef] | None = None
        self.waiters: list[asyncio.Future[Any]] | None = None
        self.deferred: set[Caller] | None = None

    def add_link(self, pid: int) -> None:
        if self.links is None:
            self.links = set()
        self.links.add(pid)

    def add_monitored_by(self, mref: Any, watcher: ActorRef) -> None:
        if self.monitored_by is None:
            self.monitored_by = {}
        self.monitored_by[mref] = watcher

    def add_monitoring(self, mref: Any, target: int) -> None:
        if self.monitoring is None:
            self.monitoring = {}
        self.monitoring[mref] = target

    def add_name(self, entry: tuple[bool, Any]) -> None:
        if self.names is None:
            self.names = []
        self.names.append(entry)

    def add_timer(self, timer: TimerRef) -> None:
        if self.timers is None:
            self.timers = set()
        self.timers.add(timer)

    def add_deferred(self, caller: Caller) -> None:
        if self.deferred is None:
            self.deferred = set()
        self.deferred.add(caller)

    def add_waiter(self, fut: asyncio.Future[Any]) -> None:
        waiters = self.waiters
        if waiters is None:
            waiters = self.waiters = []
        elif len(waiters) >= 32:  # drop futures whose watchers gave up
            waiters[:] = [w for w in waiters if not w.done()]
        waiters.append(fut)


class _Proc:
    """One live actor as seen by its node."""

    __slots__ = (
        "actor",
        "capacity",
        "current",
        "dropped",
        "exit_reason",
        "ext",
        "lazy",
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
        # None (empty), one item, or a deque of items (see the module docs)
        self.mbox: Any = None
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
        # a lazy handle_continue, (CONTINUE, arg): queued in front when first activated
        self.lazy: tuple[Any, ...] | None = None

    @property
    def x(self) -> _Ext:
        """The extension record, created on first use."""
        ext = self.ext
        if ext is None:
            ext = self.ext = _Ext()
        return ext

    def as_deque(self) -> deque[tuple[Any, ...]]:
        """The mailbox as a deque (converting an empty or one-item mailbox)."""
        mb = self.mbox
        if mb is None:
            mb = self.mbox = deque()
        elif type(mb) is tuple:
            mb = self.mbox = deque((mb,))
        queue: deque[tuple[Any, ...]] = mb
        return queue

    def push_front(self, item: tuple[Any, ...]) -> None:
        """Put ``item`` ahead of every queued message (a ``handle_continue`` to run)."""
        if self.mbox is None:
            self.mbox = item
        else:
            self.as_deque().appendleft(item)

    def forget_deferred(self, caller: Caller) -> None:
        if self.ext is not None and self.ext.deferred is not None:
            self.ext.deferred.discard(caller)
