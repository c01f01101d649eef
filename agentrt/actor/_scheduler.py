"""The node's scheduler: one run queue, a few worker tasks, no task per idle actor (private).

An actor with messages is put on the run queue once. A worker holding the *runner* role
takes actors off the queue and handles up to ``slice_size`` of their messages each,
stepping every handler coroutine by hand (``coro.send(None)``) inside the worker's own
task. Most handlers finish without ever suspending, so a message costs a coroutine step,
not a task switch: this is what makes the busy path faster than one task per actor.

When a handler does suspend (it awaits I/O, a call, a sleep), the worker hands the runner
role to another worker (a parked one, or a new task) and stays with that actor, finishing
the handler in the same task that started it, so ``asyncio.current_task()``,
``asyncio.timeout`` and cancellation behave as they would in a task of its own. The
worker then puts the actor back on the run queue if it has more messages, and either
takes the runner role again or parks. Parked workers are bounded (``max_parked``).

The runner yields to the event loop every ``yield_every`` messages so that I/O, timers and
other tasks keep running under a flood of messages (the reductions idea of the BEAM).

Only a kill cancels a worker's task on purpose (while it finishes the killed actor's
handler). Any other cancellation is *stray* (e.g. a timer a finished handler left armed
against the task) and is counted in ``stray_cancels``: one that reaches a handler crashes
that actor; one that reaches a parked worker ends it, and if that worker had just been
handed the runner role it passes the role on first, so queued actors are never stranded.
"""

from __future__ import annotations

import asyncio
import contextvars
import types
from collections import deque
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any, cast

from agentrt.actor._actor import IGNORE, NOREPLY, Continue, Stop
from agentrt.actor._errors import ActorDead, Ignored, InitError
from agentrt.actor._mailbox import admit_waiting
from agentrt.actor._process import (
    CALL,
    CAST,
    CONTINUE,
    EXIT,
    IDLE,
    INFO,
    QUEUED,
    RUNNING,
    STOP,
    TERMINATE,
    _Proc,
)
from agentrt.actor._signals import KILLED, NORMAL

if TYPE_CHECKING:
    from agentrt.actor._node import Node

_START: Any = object()


class _ExitNow(BaseException):
    """Unwinds the running actor's own stack after it was killed by something it did."""


_Pending = tuple[_Proc, tuple[Any, ...], Coroutine[Any, Any, Any], Any]
# returned by Scheduler._run after ``yield_every`` messages: the worker yields to the loop
_YIELD = cast("_Pending", object())


@types.coroutine
def drive(
    node: Node, proc: _Proc, coro: Coroutine[Any, Any, Any], value: Any = _START
) -> Generator[Any, Any, Any]:
    """Run ``coro`` to completion inside the current task, marking ``proc`` as the
    running actor around each step. ``value`` is what the coroutine yielded when it was
    first stepped elsewhere; by default the coroutine is started here."""
    if value is _START:
        prev = node._current
        node._current = proc
        try:
            value = coro.send(None)
        except StopIteration as stop:
            return stop.value
        finally:
            node._current = prev
    while True:
        try:
            sent = yield value
        except BaseException as exc:
            prev = node._current
            node._current = proc
            try:
                value = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            finally:
                node._current = prev
            continue
        prev = node._current
        node._current = proc
        try:
            value = coro.send(sent)
        except StopIteration as stop:
            return stop.value
        finally:
            node._current = prev


async def run_init(node: Node, proc: _Proc, args: tuple[Any, ...]) -> Continue | None:
    """Run ``proc``'s ``init(*args)`` inside the caller's task (``Node.spawn``), marking
    ``proc`` as the running actor around each step; returns its ``Continue``, if any.

    ``init``'s coroutine is made here, so a start cancelled before it runs leaves no
    coroutine un-awaited. A kill while it is suspended cancels the caller's task
    (``proc.task``): the cancel is taken back here and the caller gets ``ActorDead``; a
    cancel of the caller itself kills the actor and goes on. ``init`` raising: the actor
    exits with that reason and ``InitError``; ``IGNORE``: ``Ignored``; ``Stop(reason)``:
    it exits with ``reason`` and ``InitError(reason)``."""
    ref = proc.ref
    task = None
    coro = proc.actor.init(*args)
    try:
        prev = node._current
        node._current = proc
        try:  # the first step here: an init that never suspends needs no task
            step = coro.send(None)
        except StopIteration as stop:
            result = stop.value
            suspended = False
        else:
            suspended = True
        finally:
            node._current = prev
        if suspended:  # a kill while it waits cancels this task (``proc.task``)
            task = proc.task = asyncio.current_task()
            result = await drive(node, proc, coro, step)
    except (asyncio.CancelledError, _ExitNow):
        if proc.exit_reason is None:  # the spawner itself was cancelled
            node._kill_proc(proc, KILLED)
            raise
        if task is not None and task.cancelling():
            task.uncancel()  # the kill's cancel ends here
        node._check_doomed()
        raise ActorDead(ref, proc.exit_reason) from None
    except Exception as exc:
        if proc.exit_reason is not None:
            raise ActorDead(ref, proc.exit_reason) from None
        node._log_crash(proc, None, exc)
        node._finalize(proc, exc)
        node._check_doomed()
        raise InitError(ref, exc) from exc
    finally:
        proc.task = None
    if proc.exit_reason is not None:
        raise ActorDead(ref, proc.exit_reason)
    if result is IGNORE:
        node._finalize(proc, NORMAL)
        raise Ignored(ref)
    if isinstance(result, Stop):  # OTP {stop, Reason}: an exit, not a crash
        node._finalize(proc, result.reason)
        node._check_doomed()
        raise InitError(ref, result.reason)
    return result if isinstance(result, Continue) else None


class Scheduler:
    """Run queue and workers of one node."""

    def __init__(
        self, node: Node, loop: asyncio.AbstractEventLoop, *, slice_size: int, yield_every: int
    ) -> None:
        self._node = node
        self._loop = loop
        self._slice = slice_size
        self._yield_every = yield_every
        self.runq: deque[_Proc] = deque()
        self.runner = False  # True while some worker owns (or is about to own) the run queue
        self.processed = 0  # messages handled since the runner last yielded
        self.handled = 0  # messages handled in total
        self.stray_cancels = 0  # cancellations of a worker's task not sent by a kill
        self._parked: list[asyncio.Future[None]] = []
        self._max_parked = 16
        self.workers: set[asyncio.Task[None]] = set()
        self.closed = False

    @property
    def parked(self) -> int:
        """Workers parked, waiting to be handed the run queue."""
        return len(self._parked)

    # -- activation ------------------------------------------------------------------------

    def activate(self, proc: _Proc) -> None:
        """Queue an idle actor that has just received a message (behind a lazy
        ``handle_continue`` still to run: ``Continue(lazy=True)``)."""
        if proc.lazy is not None:
            proc.push_front(proc.lazy)
            proc.lazy = None
        proc.sched = QUEUED
        self.runq.append(proc)
        if not self.runner:
            self._start_runner()

    def _start_runner(self) -> None:
        self.runner = True
        parked = self._parked
        while parked:
            fut = parked.pop()
            if not fut.done():
                fut.set_result(None)
                return
        if self.closed:
            self.runner = False
            return
        # in an empty context: the worker runs many actors' handlers, and must not carry
        # the context vars (a turn's log context, a span) of the code that woke it
        worker = self._worker()
        task = contextvars.Context().run(self._loop.create_task, worker, name="agentrt-worker")
        self.workers.add(task)
        task.add_done_callback(self.workers.discard)

    # -- workers ---------------------------------------------------------------------------

    async def _worker(self) -> None:
        # _run and the park are inlined steps, not coroutines: a worker woken for one
        # message (a sequential call) then costs no coroutine object besides the handler.
        runq = self.runq
        while True:
            pending = self._run()
            while pending is _YIELD:  # let I/O, timers and other tasks run
                try:
                    await asyncio.sleep(0)
                except BaseException as exc:
                    self._lost_role(exc)
                    raise
                pending = self._run()
            if pending is not None:
                await self._finish(*pending)
                if not self.runner and runq:
                    self.runner = True
                    continue
            if self.closed or len(self._parked) >= self._max_parked:
                return
            fut = self._loop.create_future()
            self._parked.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                self._unpark(fut)
                return
            # woken by _start_runner: this worker now holds the runner role

    def _unpark(self, fut: asyncio.Future[None]) -> None:
        """A parked worker's task was cancelled: the worker is to end, because the node
        is closing or the cancel is *stray* (nothing in the node cancels a parked
        worker's task). A worker handed the role just before such a cancel passes the
        role on, so the run queue never stays owned by nobody."""
        if not self.closed:
            self.stray_cancels += 1
        if not fut.cancelled():  # the role was handed over before the cancel landed
            self._pass_role()
        elif fut in self._parked:
            self._parked.remove(fut)

    def _pass_role(self) -> None:
        """Give up the runner role; another worker takes it if actors are queued."""
        self.runner = False
        if self.runq and not self.closed:
            self._start_runner()

    def _lost_role(self, exc: BaseException) -> None:
        """The runner was interrupted by ``exc`` (counted if a stray cancel): pass the role."""
        if isinstance(exc, asyncio.CancelledError) and not self.closed:
            self.stray_cancels += 1
        self._pass_role()

    def _run(self) -> _Pending | None:
        """Hold the runner role until the queue is empty (returns None, role released), a
        handler suspends (returns it, role handed to another worker) or ``yield_every``
        messages were handled (returns ``_YIELD``: the worker yields to the loop, keeping
        the role)."""
        runq = self.runq
        try:
            while runq:
                proc = runq.popleft()
                if proc.exit_reason is not None:
                    continue
                pending = self._drain(proc)
                if pending is not None:
                    self.runner = False
                    if runq:
                        self._start_runner()
                    return pending
                if self.processed >= self._yield_every:
                    self.processed = 0
                    return _YIELD
        except BaseException as exc:
            self._lost_role(exc)
            raise
        self.runner = False
        return None

    def _drain(self, proc: _Proc) -> _Pending | None:
        """Handle up to one slice of ``proc``'s messages synchronously."""
        node = self._node
        proc.sched = RUNNING
        actor = proc.actor
        n = 0
        item: tuple[Any, ...] | None = None
        while True:
            if item is None:
                if proc.exit_reason is not None or n >= self._slice:
                    break
                mb = proc.mbox
                if mb is None:
                    break
                if type(mb) is tuple:  # one message: the slot held it, no deque
                    item = mb
                    proc.mbox = None
                elif mb:
                    item = mb.popleft()
                else:
                    break
                n += 1
                if proc.putters is not None:
                    admit_waiting(proc)
                if item[0] >= EXIT:
                    item = self._system(proc, item)
            kind = item[0]
            proc.current = item
            if kind == CALL:
                coro = actor.handle_call(item[1], item[2])
            elif kind == CAST:
                coro = actor.handle_cast(item[1])
            elif kind in (INFO, EXIT):
                coro = actor.handle_info(item[1])
            elif kind == TERMINATE:
                coro = actor.terminate(item[1])
            else:
                coro = actor.handle_continue(item[1])
            node._current = proc
            try:
                value = coro.send(None)
            except StopIteration as stop:
                node._current = None
                result = stop.value
                if kind == CALL and result is not NOREPLY and proc.stop_req is None:
                    fut = item[2]._fut  # a call answered: done()'s common case, inlined
                    if fut is not None and not fut.done():
                        fut.set_result(result)
                    proc.current = item = None
                    continue
                item = self.done(proc, item, result)
                continue
            except BaseException as exc:
                node._current = None
                item = self.failed(proc, item, exc)
                continue
            node._current = None
            self.processed += n
            self.handled += n
            return (proc, item, coro, value)
        self.processed += n
        self.handled += n
        proc.current = None
        if proc.exit_reason is None:
            if proc.mbox:
                proc.sched = QUEUED
                self.runq.append(proc)
            else:
                proc.sched = IDLE
                proc.mbox = None
        return None

    async def _finish(
        self, proc: _Proc, item: tuple[Any, ...], coro: Coroutine[Any, Any, Any], value: Any
    ) -> None:
        """Finish a suspended handler (then a ``terminate`` it leads to) in this task."""
        node = self._node
        task = asyncio.current_task()
        proc.task = task
        next_item: tuple[Any, ...] | None = item
        try:
            while next_item is not None:
                item = next_item
                try:
                    result = await drive(node, proc, coro, value)
                except asyncio.CancelledError as exc:
                    if task is not None and task.cancelling():
                        task.uncancel()  # the cancel ends here, not in later handlers
                        if proc.exit_reason is None:
                            self.stray_cancels += 1
                    if proc.exit_reason is not None:  # killed while suspended
                        return
                    next_item = self.failed(proc, item, exc)
                except BaseException as exc:
                    next_item = self.failed(proc, item, exc)
                else:
                    next_item = self.done(proc, item, result)
                if next_item is not None:  # a terminate to run after a crash or stop
                    proc.current = next_item
                    coro = proc.actor.terminate(next_item[1])
                    value = _START
        finally:
            proc.task = None
        if proc.exit_reason is None:
            proc.current = None
            if proc.mbox:
                proc.sched = QUEUED
                self.runq.append(proc)
            else:
                proc.sched = IDLE
                proc.mbox = None

    # -- message outcomes --------------------------------------------------------------------

    def _system(self, proc: _Proc, item: tuple[Any, ...]) -> tuple[Any, ...]:
        """Turn a stop request, or an exit signal from the parent, into a terminate."""
        if item[0] == CONTINUE:
            return item
        if item[0] == STOP:
            return (TERMINATE, item[1])
        ext = proc.ext
        signal = item[1]
        if ext is not None and ext.parent is not None and signal.sender == ext.parent:
            return (TERMINATE, signal.reason)
        return item

    def done(self, proc: _Proc, item: tuple[Any, ...], result: Any) -> tuple[Any, ...] | None:
        """A handler returned ``result``; returns the next synthesized item, if any."""
        kind = item[0]
        if kind == CALL:
            caller = item[2]
            if result is NOREPLY:
                if not caller.answered:
                    caller._owner = proc
                    proc.x.add_deferred(caller)
            else:
                caller.reply(result)
        elif kind == TERMINATE:
            self._node._finalize(proc, item[1])
            return None
        elif kind == CONTINUE:
            if isinstance(result, Continue):  # chained: runs before any message
                proc.push_front((CONTINUE, result.arg))
            elif isinstance(result, Stop):  # OTP {stop, Reason, State}: terminate runs
                proc.current = None
                return (TERMINATE, result.reason)
        proc.current = None
        reason = proc.stop_req
        if reason is not None:
            proc.stop_req = None
            return (TERMINATE, reason)
        return None

    def failed(
        self, proc: _Proc, item: tuple[Any, ...], exc: BaseException
    ) -> tuple[Any, ...] | None:
        """A handler raised ``exc``: the actor crashes (``terminate(exc)`` runs next)."""
        if proc.exit_reason is not None:  # it was killed while running
            return None
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise exc
        node = self._node
        node._log_crash(proc, item, exc)
        if item[0] == TERMINATE:
            node._finalize(proc, exc)
            return None
        if item[0] == CALL:  # the caller learns the crash reason when the actor exits
            caller = item[2]
            caller._owner = proc
            proc.x.add_deferred(caller)
        return (TERMINATE, exc)

    # -- shutdown ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop parked workers and wait for every worker task to end."""
        self.closed = True
        for fut in self._parked:
            if not fut.done():
                fut.cancel()
        self._parked.clear()
        while self.workers:
            await asyncio.gather(*self.workers, return_exceptions=True)
