"""Tools that own a blocking resource, run in one supervised pykka ``ThreadingActor``.

A database connection or a browser must stay in the thread that created it. A
:class:`ResourceExecutor` creates the resource with ``factory()`` inside its actor's thread,
runs every job of its tools there, one at a time, in arrival order, and closes it with
``close(resource)`` in that thread when the actor stops.

**Supervision.** ``await executor.start(node)`` starts a :class:`supervisors.Supervisor` on
``node`` whose only child is the actor (``ChildSpec.pykka``), and returns once the factory
has built the resource. The restart policy is the supervisor's: more than ``max_restarts``
restarts within ``max_seconds`` (defaults 3 in 5 s) and it gives up. The actor crashes, and
the supervisor restarts it with a new thread and a new resource, when the factory fails, a
tool raises :class:`~agentrt.tools.ResourceBroken`, or a tool raises a ``BaseException``
(``SystemExit``...); the old resource is closed. An ordinary exception of a tool is returned
to its caller and crashes nothing. Jobs queued but not started when the actor crashed are
resubmitted to the next one. When the supervisor gives up (it exits), the state becomes
``"failed"`` and queued and later jobs fail with :class:`~agentrt.tools.ResourceUnavailable`
until :meth:`~ResourceExecutor.start` is called again. :meth:`~ResourceExecutor.stop` shuts
the supervisor down: the jobs already queued run, then ``close`` runs in the actor's thread;
after ``shutdown`` seconds (default 5) the actor is abandoned instead.

**Cancellation.** A job whose caller gave up before it started is skipped; a running job
cannot be interrupted (Python threads cannot be): it runs to completion and its result is
discarded. Jobs are bounded by ``max_queue`` (more raise ``ToolBusy``).

Actor threads are daemon threads: a tool stuck in a blocking call cannot hold the process.

Example::

    db = ResourceExecutor("db", lambda: sqlite3.connect(path), close=lambda c: c.close())
    await db.start(node)                      # runs the factory; raises if it fails
    rows = await db.run(lambda conn: conn.execute("select 1").fetchall(), {})
    db.alive, db.state                        # True, "running"
    await db.stop()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

import pykka

from agentrt.actor import SHUTDOWN, ActorRef, ExitReason, Node
from agentrt.errors import ConfigError
from agentrt.tools._errors import ResourceBroken, ResourceUnavailable, ToolBusy
from supervisors import ChildSpec, StartChildError, Supervisor, pykka_ref

__all__ = ["ResourceExecutor", "ResourceState"]

log = logging.getLogger("agentrt.tools.resource")

R = TypeVar("R")
ResourceState = Literal["stopped", "starting", "running", "failed"]
"""``stopped`` (initial, and after stop), ``starting`` (the first factory runs),
``running`` (its supervisor runs; the actor is up or being restarted), ``failed`` (the
supervisor gave up, or the start failed)."""


class _Crash(Exception):
    """Raised inside the actor to make pykka stop it (the resource is unusable)."""


class _Job:
    __slots__ = ("fn", "future", "kwargs", "loop", "on_done", "started")

    def __init__(
        self,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        on_done: Callable[[], None],
    ) -> None:
        self.fn = fn
        self.kwargs = kwargs
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()
        self.on_done: Callable[[], None] | None = on_done
        self.started = False

    def complete_threadsafe(self, value: Any = None, error: BaseException | None = None) -> None:
        """Complete the caller's future from any thread (ignored once the loop is gone)."""
        try:
            self.loop.call_soon_threadsafe(self.complete, value, error)
        except RuntimeError:
            pass

    def complete(self, value: Any, error: BaseException | None) -> None:
        """Complete the caller's future and call ``on_done`` once (loop thread only)."""
        if self.on_done is not None:
            self.on_done()
            self.on_done = None
        if self.future.done():
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(value)


class _ResourceActor(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self, factory: Callable[[], Any], close: Callable[[Any], None] | None) -> None:
        super().__init__()
        self._factory = factory
        self._close_fn = close
        self._resource: Any = None
        self._has_resource = False

    def on_start(self) -> None:
        self._resource = self._factory()  # raising fails this child's start
        self._has_resource = True

    def on_receive(self, message: Any) -> Any:
        job: _Job = message
        if job.started:
            return None  # a resubmitted duplicate: it already ran here or before a crash
        if job.future.done():  # its caller gave up, or the executor stopped
            job.complete_threadsafe()
            return None
        job.started = True
        try:
            value = job.fn(self._resource, **job.kwargs)
        except ResourceBroken as exc:
            job.complete_threadsafe(error=exc)
            raise _Crash(str(exc)) from exc
        except Exception as exc:
            job.complete_threadsafe(error=exc)
            return None
        except BaseException as exc:
            job.complete_threadsafe(error=RuntimeError(f"tool raised {exc!r}"))
            raise _Crash(repr(exc)) from exc
        job.complete_threadsafe(value)
        return None

    def _close(self) -> None:
        if self._has_resource and self._close_fn is not None:
            self._has_resource = False
            try:
                self._close_fn(self._resource)
            except Exception:
                log.exception("closing a resource failed")

    def on_stop(self) -> None:
        self._close()

    def on_failure(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._close()


class ResourceExecutor(Generic[R]):
    """One resource in one supervised pykka actor thread (module docstring).

    ``close`` (default none) runs in the actor's thread when it stops or crashes;
    ``max_restarts``/``max_seconds`` (3 in 5 s) are its supervisor's intensity;
    ``max_queue`` (1000) bounds the jobs waiting or running; ``shutdown`` (5 s) is how long
    :meth:`stop` waits for the queued jobs and ``close``.
    """

    def __init__(
        self,
        name: str,
        factory: Callable[[], R],
        *,
        close: Callable[[R], None] | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        max_queue: int = 1000,
        shutdown: float = 5.0,
    ) -> None:
        if max_restarts < 0:
            raise ConfigError("max_restarts", f"must be >= 0, got {max_restarts!r}")
        if max_seconds <= 0:
            raise ConfigError("max_seconds", f"must be > 0, got {max_seconds!r}")
        if max_queue < 1:
            raise ConfigError("max_queue", f"must be >= 1, got {max_queue!r}")
        self.name = name
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.max_queue = max_queue
        self._start_actor = ChildSpec.pykka(name, _ResourceActor, factory, close).start
        self._spec = ChildSpec(id=name, start=self._start_child, shutdown=shutdown)
        self._state: ResourceState = "stopped"
        self._sup: ActorRef | None = None
        self._ref: pykka.ActorRef[Any] | None = None
        self._pending: set[_Job] = set()
        self._actors = 0
        self._jobs = 0

    @property
    def state(self) -> ResourceState:
        """See :data:`ResourceState`."""
        return self._state

    @property
    def alive(self) -> bool:
        """True when running and its actor thread is alive."""
        return self._state == "running" and self._ref is not None and self._ref.is_alive()

    @property
    def supervisor(self) -> ActorRef | None:
        """The ref of the supervisor that owns the actor (None when not running)."""
        return self._sup

    async def start(self, node: Node) -> None:
        """Start the supervisor and its actor on ``node``; return once the factory has
        built the resource. No-op when starting or running.

        Raises ResourceUnavailable when the factory fails (nothing is left running).
        """
        if self._state in ("starting", "running"):
            return
        self._state = "starting"
        self._actors = 0
        try:
            sup = await Supervisor.start(
                node, [self._spec], max_restarts=self.max_restarts, max_seconds=self.max_seconds
            )
        except BaseException as exc:
            self._state = "failed"
            self._fail_pending("failed to start")
            if not isinstance(exc, StartChildError):
                raise
            why = f"factory failed: {exc.child_reason!r}"
            raise ResourceUnavailable(self.name, why) from exc
        self._sup = sup
        node.watch(sup).add_done_callback(lambda f: self._supervisor_exited(sup, f.result()))

    async def _start_child(self, node: Node, parent: ActorRef) -> ActorRef:
        """The child's start function: the ``ChildSpec.pykka`` adapter, then adopt its actor
        (its factory has run) and resubmit the jobs that have not started."""
        child: ActorRef = await self._start_actor(node, parent)
        self._ref = await pykka_ref(child)
        self._actors += 1
        self._state = "running"
        for job in list(self._pending):
            if not job.started:
                self._tell(job)
        return child

    def _supervisor_exited(self, sup: ActorRef, reason: ExitReason) -> None:
        if sup != self._sup:
            return  # stopped on purpose
        self._sup = self._ref = None
        self._state = "failed"
        why = f"its supervisor exited ({reason!r}: gave up restarting, or the node stopped)"
        log.error("resource %r: %s; failing %d jobs", self.name, why, len(self._pending))
        self._fail_pending(why)

    async def stop(self) -> None:
        """Stop the supervisor: the jobs already queued run, then the resource is closed in
        its thread. Jobs still pending then fail with ResourceUnavailable. A job stuck in a
        blocking call past ``shutdown`` s is abandoned (its daemon thread ends when the call
        returns)."""
        sup, self._sup = self._sup, None
        self._state = "stopped"
        if sup is not None and sup.alive:
            await sup.node.stop(sup, SHUTDOWN, timeout=None)
        self._state = "stopped"  # a restart may have completed meanwhile
        self._ref = None
        self._fail_pending("stopped")

    async def run(
        self,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        on_done: Callable[[], None] | None = None,
    ) -> Any:
        """Run ``fn(resource, **kwargs)`` in the actor thread; returns its result.

        Raises what ``fn`` raised, ResourceUnavailable when not running, ToolBusy when
        ``max_queue`` jobs are pending. ``on_done`` is called (in the loop) once the job has
        finished or been skipped, even if the caller gave up earlier.
        """
        if self._state not in ("running", "starting"):
            if on_done is not None:
                on_done()
            raise ResourceUnavailable(self.name, f"executor is {self._state}")
        if len(self._pending) >= self.max_queue:
            if on_done is not None:
                on_done()
            raise ToolBusy(self.name, len(self._pending))

        def finished() -> None:  # a job stays pending until it has run or been skipped
            self._pending.discard(job)
            if on_done is not None:
                on_done()

        job = _Job(fn, kwargs, asyncio.get_running_loop(), finished)
        self._pending.add(job)
        self._jobs += 1
        self._tell(job)
        return await job.future

    def _tell(self, job: _Job) -> None:
        if self._ref is None:
            return  # resubmitted when the next actor has started
        try:
            self._ref.tell(job)
        except pykka.ActorDeadError:
            pass  # resubmitted when the supervisor has restarted the actor

    def _fail_pending(self, why: str) -> None:
        for job in list(self._pending):
            job.complete(None, ResourceUnavailable(self.name, why))

    def stats(self) -> dict[str, Any]:
        """State, restarts since start, jobs pending (queued or running) and jobs run."""
        return {
            "name": self.name,
            "state": self._state,
            "alive": self.alive,
            "restarts": max(0, self._actors - 1),
            "pending": len(self._pending),
            "jobs": self._jobs,
        }

    def __repr__(self) -> str:
        return f"ResourceExecutor({self.name!r}, {self._state})"
