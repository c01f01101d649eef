"""``Node``: one event loop's actors, their process table, and their lifecycle.

One node per event loop. It owns everything its actors need (process table, run queue,
registry, timers, call deadlines, loop watchdog): nothing is module-global, so two nodes
in one process never see each other.

Example::

    async with Node() as node:
        ref = await node.spawn(Counter, 0, name="counter")
        await ref.cast(1)
        assert await node.whereis("counter").call("get") == 1
    # every actor stopped, zero tasks left pending

Exit semantics follow OTP (see ``signals``): ``stop`` runs ``terminate`` and is processed
in mailbox order; ``kill`` and untrapped exit signals end the actor at once, cancelling
a handler in progress, without ``terminate``; links propagate abnormal exits; monitors
deliver ``Down``. An actor's death is recorded (removed from the table, reason final)
before any link, monitor or waiter reacts to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Hashable, Sequence
from typing import Any, TypeVar

from agentrt.actor._actor import Actor
from agentrt.actor._calls import _Expired, multi_call
from agentrt.actor._deadlines import CallDeadlines
from agentrt.actor._errors import (
    ActorDead,
    ActorError,
    NodeClosed,
    StopTimeout,
)
from agentrt.actor._exits import log_crash, notify_exit
from agentrt.actor._mailbox import MailboxConfig, Mailboxes
from agentrt.actor._nodeconfig import ActorInfo, NodeConfig, NodeStats, actor_info
from agentrt.actor._process import (
    CONTINUE,
    EXIT,
    IDLE,
    INFO,
    INITIALIZING,
    STOP,
    _Proc,
    mailbox_len,
)
from agentrt.actor._ref import ActorRef
from agentrt.actor._registry import Registry
from agentrt.actor._scheduler import Scheduler, _ExitNow, run_init
from agentrt.actor._signals import (
    KILLED,
    NOPROC,
    NORMAL,
    SHUTDOWN,
    Down,
    Exit,
    ExitReason,
    MonitorRef,
)
from agentrt.actor._timers import TimerRef
from agentrt.actor._watchdog import LoopWatch
from agentrt.errors import ArgumentTypeError, InvalidArgument

__all__ = ["ActorInfo", "Node", "NodeConfig", "NodeStats"]

_log = logging.getLogger("agentrt.actor")
A = TypeVar("A", bound=Actor)
KILL = "kill"  # the untrappable exit signal; the actor's reason becomes "killed"


class Node:
    """The actors of one event loop. Use ``async with Node() as node`` (or ``await
    node.start()`` / ``await node.aclose()``)."""

    def __init__(self, config: NodeConfig | None = None) -> None:
        self.config = config if config is not None else NodeConfig()
        self.name = self.config.name
        self._procs: dict[int, _Proc] = {}
        self._next_pid = 1
        self._next_mon = 1
        self._current: _Proc | None = None
        self._pending_exits: deque[_Proc] = deque()
        self._finalizing = False
        self._started = False
        self._closing = False
        self._closed = False
        self._spawned = 0
        self._exited = 0
        self._crashes = 0
        self._lost = 0
        self.registry = Registry(self)
        self._watch = LoopWatch(
            self,
            interval=self.config.lag_interval,
            slow_threshold=self.config.slow_handler_threshold,
        )

    # -- lifecycle of the node ------------------------------------------------------------

    async def start(self) -> None:
        """Bind the node to the running loop and start its watchdog (idempotent)."""
        if self._started:
            return
        if self._closed:
            raise NodeClosed(f"node {self.name!r} is closed")
        cfg = self.config
        self._loop = asyncio.get_running_loop()
        self._sched = Scheduler(
            self, self._loop, slice_size=cfg.slice_size, yield_every=cfg.yield_every
        )
        self._deadlines = CallDeadlines(self._loop, _Expired)
        self._mail = Mailboxes(self._sched.activate)
        self._watch.start(cfg.watchdog)
        self._started = True

    async def __aenter__(self) -> Node:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every actor and release everything; leaves zero pending tasks.

        Actors without a live parent are sent a stop request with reason ``shutdown``
        (newest first, processed in mailbox order, ``terminate`` runs; supervisors stop
        their children in order); whatever is still alive after ``shutdown_timeout`` is
        killed. Idempotent.
        """
        if self._closing or not self._started:
            self._closed = True
            return
        self._closing = True
        try:
            waiters = []
            procs = self._procs
            for proc in reversed(list(procs.values())):
                parent = proc.ext.parent if proc.ext is not None else None
                if parent is None or parent.pid not in procs:
                    fut = self._loop.create_future()
                    proc.x.add_waiter(fut)
                    self._mail.push_system(proc, (STOP, SHUTDOWN))
                    waiters.append(fut)
            if waiters:
                await asyncio.wait(waiters, timeout=self.config.shutdown_timeout)
            for proc in list(procs.values()):
                self._kill_proc(proc, KILLED)
        finally:
            self._deadlines.close()
            self._watch.stop()
            await self._sched.aclose()
            self._closed = True

    # -- spawning -------------------------------------------------------------------------

    async def spawn(
        self,
        actor_class: type[A],
        *args: Any,
        name: Hashable | None = None,
        mailbox: MailboxConfig | None = None,
        link: ActorRef | None = None,
    ) -> ActorRef:
        """Start an actor of ``actor_class`` and return its ref once ``init(*args)`` ran.

        - ``name``: register it under this unique name (``NameTaken`` if held).
        - ``mailbox``: its mailbox bounds (default: the node's ``config.mailbox``).
        - ``link``: link it to this actor, which becomes its parent (a supervisor).

        ``init`` runs in the caller's task (no task of its own: a supervisor starting
        children whose ``init`` does not suspend never leaves its handler); messages sent
        meanwhile wait. If ``init`` returns ``Continue(arg)``, ``spawn`` returns at once
        and ``handle_continue(arg)`` runs next, ahead of those messages (with
        ``lazy=True``: when the first message or signal arrives). If ``init`` raises,
        the actor exits with that exception as its reason (links see it) and ``spawn``
        raises ``InitError``; if it returns ``IGNORE``, the actor exits normally and
        ``spawn`` raises ``Ignored``; if it returns ``Stop(reason)``, the actor exits with
        ``reason`` (no crash logged) and ``spawn`` raises ``InitError(reason)``. The class
        is instantiated with no arguments.
        """
        if not self._started or self._closing:
            raise NodeClosed(f"node {self.name!r} is not running")
        if not (isinstance(actor_class, type) and issubclass(actor_class, Actor)):
            raise ArgumentTypeError(
                "actor_class", f"spawn() needs an Actor subclass, got {actor_class!r}"
            )
        cfg = self.config.mailbox if mailbox is None else mailbox
        if not isinstance(cfg, MailboxConfig):
            raise ArgumentTypeError("mailbox", f"mailbox must be a MailboxConfig, got {mailbox!r}")
        parent = self._lookup(link) if link is not None else None
        pid = self._next_pid
        self._next_pid = pid + 1
        ref = ActorRef(self, pid)
        actor = actor_class()
        actor._ref = ref
        proc = _Proc(ref, actor, cfg.capacity, cfg.overflow)
        if name is not None:
            self.registry._claim(name, proc)
        self._procs[pid] = proc
        self._spawned += 1
        if parent is not None:
            self._link(proc, parent)
            proc.x.parent = parent.ref
        if actor_class._custom_init:
            cont = await run_init(self, proc, args)
            if cont is None:
                pass
            elif cont.lazy:  # runs ahead of the first message or signal (Scheduler.activate)
                proc.lazy = (CONTINUE, cont.arg)
            else:  # handle_continue runs before any message
                proc.push_front((CONTINUE, cont.arg))
        proc.sched = IDLE
        if proc.stop_req is not None:
            self._mail.push_system(proc, (STOP, proc.stop_req))
            proc.stop_req = None
        elif proc.mbox:
            self._sched.activate(proc)
        return ref

    async def multi_call(
        self, refs: Sequence[ActorRef], msg: Any, timeout: float | None = 5.0
    ) -> list[Any]:
        """Call every actor in ``refs`` with ``msg`` at once and wait for all the replies.

        Returns one entry per ref, in order: the reply, or the exception that call would
        have raised (``ActorDead``, ``CallTimeout``, ``MailboxFull``, ``ActorError``) as a
        value, so one failure does not hide the other replies. Every request is queued
        before the first reply is awaited, with no task per call: this is the cheap way to
        fan out (router to workers, scatter/gather). ``timeout`` applies to each call and,
        as with ``ActorRef.call`` (the same path: ``agentrt.actor._calls``), counts the
        time spent waiting for mailbox space.
        """
        return await multi_call(self, refs, msg, timeout)

    # -- stopping and signals -------------------------------------------------------------

    async def stop(
        self, ref: ActorRef, reason: ExitReason = NORMAL, timeout: float | None = 5.0
    ) -> None:
        """Ask ``ref`` to stop with ``reason`` and wait until it has exited.

        The request is handled in mailbox order, after the messages already queued;
        ``terminate(reason)`` runs. Raises ``ActorDead`` if it is not alive,
        ``StopTimeout`` if it has not exited within ``timeout`` seconds (it keeps running:
        ``kill`` it if needed). An actor stops itself with ``self.stop(reason)``.
        """
        proc = self._lookup(ref)
        if proc is self._current:
            raise ActorError(f"{ref!r} cannot wait for its own stop: use self.stop()", ref)
        fut: asyncio.Future[Any] = self._loop.create_future()
        proc.x.add_waiter(fut)
        self._mail.push_system(proc, (STOP, reason))
        try:
            async with asyncio.timeout(timeout):
                await fut
        except TimeoutError:
            raise StopTimeout(ref, timeout or 0.0) from None

    def kill(self, ref: ActorRef) -> None:
        """End ``ref`` at once with reason ``killed``: not trappable, ``terminate`` does not
        run (not even one in progress). No-op when it is already dead."""
        self.exit(ref, KILL)

    def exit(self, ref: ActorRef, reason: ExitReason, *, sender: ActorRef | None = None) -> None:
        """Send an exit signal to ``ref`` (no-op when it is dead).

        ``"kill"`` ends it at once with ``killed``. Otherwise a trapping actor gets an
        ``Exit(sender, reason)`` message (from its parent: it terminates with ``reason``);
        a non-trapping one ignores ``normal`` and dies at once with any other reason.
        """
        proc = self._procs.get(ref.pid) if ref.node is self else None
        if proc is not None:
            self._signal(proc, sender, reason)
        self._check_doomed()

    def watch(self, ref: ActorRef) -> asyncio.Future[ExitReason]:
        """A future resolved with ``ref``'s exit reason when it exits (at once with
        ``"noproc"`` if it is not alive). For code that is not an actor; actors use
        ``monitor``. Cancelling the future only stops the watching."""
        fut: asyncio.Future[ExitReason] = self._loop.create_future()
        proc = self._procs.get(ref.pid) if ref.node is self else None
        if proc is None:
            fut.set_result(NOPROC)
            return fut
        proc.x.add_waiter(fut)
        return fut

    async def wait(self, ref: ActorRef, timeout: float | None = None) -> ExitReason:
        """Wait until ``ref`` exits and return its reason (``"noproc"`` if already dead).
        Raises ``TimeoutError`` after ``timeout`` seconds."""
        fut = self.watch(ref)
        if fut.done():
            return fut.result()
        async with asyncio.timeout(timeout):
            return await fut

    # -- links and monitors --------------------------------------------------------------

    def link(self, a: ActorRef, b: ActorRef) -> None:
        """Link ``a`` and ``b`` (bidirectional). Raises ``ActorDead`` if either is dead."""
        procs = self._procs
        pa = procs.get(a.pid) if a.node is self else None
        pb = procs.get(b.pid) if b.node is self else None
        if pa is None or pb is None:
            dead = a if pa is None else b
            raise ActorDead(dead, NOPROC)
        if pa is not pb:
            ea, eb = pa.x, pb.x
            links = ea.links
            if links is not None and pb.ref.pid in links:  # already linked (a child spawned
                return  # with link=parent, registered by its supervisor): nothing to add
            ea.add_link(pb.ref.pid)
            eb.add_link(pa.ref.pid)

    def _link(self, pa: _Proc, pb: _Proc) -> None:
        pa.x.add_link(pb.ref.pid)
        pb.x.add_link(pa.ref.pid)

    def unlink(self, a: ActorRef, b: ActorRef) -> None:
        """Remove the link between ``a`` and ``b`` (no-op when absent or dead)."""
        for x, y in ((a, b), (b, a)):
            proc = self._procs.get(x.pid)
            if proc is not None and proc.ext is not None and proc.ext.links is not None:
                proc.ext.links.discard(y.pid)

    def monitor(self, watcher: ActorRef, target: ActorRef) -> MonitorRef:
        """Make ``watcher`` receive ``Down(monitor, target, reason)`` when ``target`` exits;
        at once, with ``"noproc"``, if it is already dead."""
        pw = self._lookup(watcher)
        mref = MonitorRef(self._next_mon, watcher.pid, target.pid)
        self._next_mon += 1
        pt = self._procs.get(target.pid) if target.node is self else None
        if pt is None:
            self._mail.push_system(pw, (INFO, Down(mref, target, NOPROC)))
        else:
            pt.x.add_monitored_by(mref, watcher)
            pw.x.add_monitoring(mref, target.pid)
        return mref

    def demonitor(self, mref: MonitorRef) -> None:
        """Remove a monitor (no-op when it already fired or was removed)."""
        target = self._procs.get(mref._target)
        if target is not None and target.ext is not None and target.ext.monitored_by:
            target.ext.monitored_by.pop(mref, None)
        watcher = self._procs.get(mref._watcher)
        if watcher is not None and watcher.ext is not None and watcher.ext.monitoring:
            watcher.ext.monitoring.pop(mref, None)

    # -- registry, timers, introspection -------------------------------------------------

    def whereis(self, name: Hashable) -> ActorRef | None:
        """The live actor registered under ``name``, or None."""
        return self.registry.whereis(name)

    def send_after(self, ref: ActorRef, msg: Any, delay: float) -> TimerRef:
        """Deliver ``msg`` to ``ref``'s ``handle_info`` after ``delay`` seconds."""
        return self._timer(ref, msg, delay, 0.0)

    def send_interval(self, ref: ActorRef, msg: Any, interval: float) -> TimerRef:
        """Deliver ``msg`` to ``ref``'s ``handle_info`` every ``interval`` seconds."""
        if not interval > 0:
            raise InvalidArgument("interval", f"interval must be > 0, got {interval!r}")
        return self._timer(ref, msg, interval, interval)

    def _timer(self, ref: ActorRef, msg: Any, delay: float, interval: float) -> TimerRef:
        if not delay >= 0:
            raise InvalidArgument("delay", f"delay must be >= 0, got {delay!r}")
        proc = self._lookup(ref)
        timer = TimerRef(self, ref.pid, msg, delay, interval)
        proc.x.add_timer(timer)
        return timer

    def actors(self) -> list[ActorRef]:
        """Refs of every live actor, oldest first."""
        return [proc.ref for proc in self._procs.values()]

    def __len__(self) -> int:
        return len(self._procs)

    def info(self, ref: ActorRef) -> ActorInfo:
        """Introspect one live actor; raises ``ActorDead`` otherwise."""
        return actor_info(self._lookup(ref))

    def mailbox_totals(self) -> tuple[int, int]:
        """Messages queued in every mailbox of the node, and the deepest any mailbox has
        been (one pass over the process table, no allocation per actor)."""
        queued = deepest = 0
        for proc in self._procs.values():
            mb = proc.mbox
            if mb is not None:
                queued += mailbox_len(mb)
            if proc.max_depth > deepest:
                deepest = proc.max_depth
        return queued, deepest

    def stats(self) -> NodeStats:
        """Node-wide counters (see ``NodeStats``)."""
        started = self._started
        return NodeStats(
            name=self.name,
            actors=len(self._procs),
            spawned=self._spawned,
            exited=self._exited,
            crashes=self._crashes,
            messages=self._sched.handled if started else 0,
            run_queue=len(self._sched.runq) if started else 0,
            workers=len(self._sched.workers) if started else 0,
            parked_workers=self._sched.parked if started else 0,
            stray_cancels=self._sched.stray_cancels if started else 0,
            pending_calls=len(self._deadlines) if started else 0,
            lost_messages=self._lost,
            loop=self._watch.stats(),
        )

    # -- delivery (used by ActorRef) -------------------------------------------------------

    def _lookup(self, ref: ActorRef) -> _Proc:
        proc = self._procs.get(ref.pid) if ref.node is self else None
        if proc is None:
            raise ActorDead(ref, NOPROC)
        return proc

    # -- exits ----------------------------------------------------------------------------

    def _signal(self, proc: _Proc, sender: ActorRef | None, reason: ExitReason) -> None:
        if reason == KILL:
            self._kill_proc(proc, KILLED)
        elif proc.trap:
            self._mail.push_system(proc, (EXIT, Exit(sender, reason)))
        elif reason != NORMAL or sender == proc.ref:
            self._kill_proc(proc, reason)

    def _kill_proc(self, proc: _Proc, reason: ExitReason) -> None:
        """End ``proc`` now, without terminate; cancel its suspended handler, if any."""
        if proc.exit_reason is not None:
            return
        task = proc.task
        self._finalize(proc, reason)
        if task is not None and proc is not self._current:
            task.cancel()

    def _check_doomed(self) -> None:
        cur = self._current
        if cur is not None and cur.exit_reason is not None:
            raise _ExitNow()

    def _request_self_stop(self, ref: ActorRef, reason: ExitReason) -> None:
        proc = self._lookup(ref)
        if proc is self._current or proc.sched == INITIALIZING:
            proc.stop_req = reason
        else:
            self._mail.push_system(proc, (STOP, reason))

    def _set_trap_exits(self, ref: ActorRef, flag: bool) -> None:
        self._lookup(ref).trap = bool(flag)

    def _log_crash(self, proc: _Proc, item: tuple[Any, ...] | None, exc: BaseException) -> None:
        self._crashes += 1
        log_crash(proc, item, exc)

    def _finalize(self, proc: _Proc, reason: ExitReason) -> None:
        """Record the death, then notify everyone (iteratively: link cascades may be deep)."""
        if proc.exit_reason is not None:
            return
        proc.exit_reason = reason
        del self._procs[proc.ref.pid]
        self._exited += 1
        self._pending_exits.append(proc)
        if self._finalizing:
            return
        self._finalizing = True
        try:
            pending = self._pending_exits
            while pending:
                notify_exit(self, pending.popleft())
        finally:
            self._finalizing = False
