"""Tools that own a blocking resource, run in one pykka ``ThreadingActor`` thread.

A database connection or a browser must stay in the thread that created it. A
:class:`ResourceExecutor` creates the resource with ``factory()`` inside its actor's thread,
runs every job of its tools there, one at a time, in arrival order, and closes it with
``close(resource)`` when the actor stops.

**Supervision.** The actor crashes when the factory fails, a tool raises
:class:`~agentrt.tools.ResourceBroken`, or a tool raises a ``BaseException``
(``SystemExit``...); the resource is closed. An ordinary exception of a tool is returned to
its caller and crashes nothing. Jobs queued but not started are resubmitted to the next
actor. Who starts that next actor:

- ``supervision="self"`` (default): the executor restarts it (a new thread, a new
  resource), OTP-style: more than ``max_restarts`` within ``max_seconds`` (defaults 3 in
  5 s) and it gives up: state ``"failed"``, queued and later jobs fail with
  :class:`~agentrt.tools.ResourceUnavailable` until :meth:`start` is called again.
- ``supervision="external"``: a supervisor starts the actor from :meth:`child_args` (for
  example ``ChildSpec.pykka("db", *executor.child_args())``) and restarts it by its own
  rules; the executor adopts each actor whose factory succeeded, and queues jobs while
  there is none (their callers' timeouts bound the wait).

**Cancellation and timeouts.** A job whose caller gave up before it started is skipped; a
running job cannot be interrupted (Python threads cannot be): it runs to completion and its
result is discarded. Jobs are bounded by ``max_queue`` (more raise ``ToolBusy``).

Actor threads are daemon threads: a tool stuck in a blocking call cannot hold the process.

Example::

    db = ResourceExecutor("db", lambda: sqlite3.connect(path), close=lambda c: c.close())
    await db.start()                          # runs the factory; raises if it fails
    rows = await db.run(lambda conn: conn.execute("select 1").fetchall(), {})
    db.alive, db.state                        # True, "running"
    await db.stop()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

import pykka

from agentrt.errors import ConfigError
from agentrt.tools.errors import ResourceBroken, ResourceUnavailable, ToolBusy

__all__ = ["ResourceExecutor", "ResourceState", "Supervision"]

log = logging.getLogger(__name__)

R = TypeVar("R")
ResourceState = Literal["stopped", "starting", "running", "failed"]
"""``stopped`` (initial, and after stop), ``starting`` (the factory runs), ``running``,
``failed`` (gave up restarting)."""

_Notify = Callable[["pykka.ActorRef[Any]", str, BaseException | None], None]
Supervision = Literal["self", "external"]
"""Who restarts a crashed resource actor: the executor itself (``"self"``, default) or a
supervisor that started it from :meth:`ResourceExecutor.child_args` (``"external"``)."""


class _Crash(Exception):
    """Raised inside the actor to make pykka stop it (the resource is unusable)."""


class _Job:
    __slots__ = ("fn", "future", "kwargs", "loop", "on_done", "started")

    def __init__(
        self,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        on_done: Callable[[], None] | None,
    ) -> None:
        self.fn = fn
        self.kwargs = kwargs
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()
        self.on_done = on_done
        self.started = False

    def complete_threadsafe(self, value: Any = None, error: BaseException | None = None) -> None:
        """Complete the caller's future from any thread (ignored once the loop is gone)."""
        try:
            self.loop.call_soon_threadsafe(self.complete, value, error)
        except RuntimeError:
            pass

    def complete(self, value: Any, error: BaseException | None) -> None:
        """Complete the caller's future and call ``on_done`` (loop thread only)."""
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

    def __init__(
        self,
        factory: Callable[[], Any],
        close: Callable[[Any], None] | None,
        notify: _Notify,
    ) -> None:
        super().__init__()
        self._factory = factory
        self._close_fn = close
        self._notify = notify
        self._resource: Any = None
        self._has_resource = False

    def on_start(self) -> None:
        try:
            self._resource = self._factory()
        except BaseException as exc:
            self._notify(self.actor_ref, "start_failed", exc)
            raise _Crash(f"resource factory failed: {exc!r}") from exc
        self._has_resource = True
        self._notify(self.actor_ref, "ready", None)

    def on_receive(self, message: Any) -> Any:
        job: _Job = message
        if job.started:
            return None  # a resubmitted duplicate: it already ran here or before a crash
        if job.future.cancelled():
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
        self._notify(self.actor_ref, "stopped", None)

    def on_failure(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._close()
        self._notify(self.actor_ref, "crashed", exc)


class ResourceExecutor(Generic[R]):
    """One resource in one pykka actor thread, restarted on crash (module docstring)."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], R],
        *,
        close: Callable[[R], None] | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        max_queue: int = 1000,
        supervision: Supervision = "self",
    ) -> None:
        if supervision not in ("self", "external"):
            raise ConfigError("supervision", f"must be 'self' or 'external', got {supervision!r}")
        if max_restarts < 0 or max_seconds <= 0 or max_queue < 1:
            raise ConfigError(
                "max_restarts", "need max_restarts >= 0, max_seconds > 0, max_queue >= 1"
            )
        self.name = name
        self._factory = factory
        self._close = close
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.max_queue = max_queue
        self._state: ResourceState = "stopped"
        self.supervision = supervision
        self._generation = 0
        self._ref: pykka.ActorRef[Any] | None = None
        self._notify: _Notify | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[_Job] = set()
        self._restarts: deque[float] = deque()
        self._ready: asyncio.Future[None] | None = None
        self._exited: asyncio.Future[None] | None = None
        self._total_restarts = 0
        self._jobs = 0

    @property
    def state(self) -> ResourceState:
        """See :data:`ResourceState`."""
        return self._state

    @property
    def alive(self) -> bool:
        """True when running and its actor thread is alive."""
        return self._state == "running" and self._ref is not None and self._ref.is_alive()

    async def start(self) -> None:
        """Start the actor and wait until the factory has built the resource.

        Resets the restart history. Raises ResourceUnavailable when the factory fails.
        No-op when already running.
        """
        if self._state == "running":
            return
        if self.supervision == "external":
            self.child_args()
        else:
            self._bind_loop()
        assert self._loop is not None
        self._restarts.clear()
        self._ready = self._loop.create_future()
        if self.supervision == "self":
            self._spawn()
        try:
            await self._ready
        finally:
            self._ready = None

    def child_args(self) -> tuple[Any, ...]:
        """``(actor_class, factory, close, notify)`` for a supervisor to start the actor
        with (``ChildSpec.pykka(id, *executor.child_args())``) when ``supervision`` is
        ``"external"``. Call it in the event loop; the executor adopts every actor started
        from these arguments once its factory has run, and resubmits queued jobs to it."""
        self._bind_loop()
        if self._state in ("stopped", "failed"):
            self._state = "starting"
        return (_ResourceActor, self._factory, self._close, self._notify)

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._notify is not None:
            return
        self._loop = loop

        def notify(ref: pykka.ActorRef[Any], event: str, exc: BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(self._on_event, ref, event, exc)
            except RuntimeError:
                pass  # loop closed

        self._notify = notify

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop after the jobs already queued (up to ``timeout`` s); close the resource.

        Jobs still pending then fail with ResourceUnavailable. A job stuck in a blocking
        call is abandoned (its daemon thread ends when the call returns). With
        ``supervision="external"`` the actor belongs to its supervisor: the executor only
        detaches from it.
        """
        ref, self._ref = self._ref, None
        self._state = "stopped"
        external = self.supervision == "external"
        if ref is not None and not external and ref.is_alive() and self._loop is not None:
            self._exited = self._loop.create_future()
            ref.stop(block=False)
            try:
                async with asyncio.timeout(timeout):
                    await self._exited
            except TimeoutError:
                why = "resource %r did not stop within %.1f s; abandoning its thread"
                log.warning(why, self.name, timeout)
            finally:
                self._exited = None
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
        if self._state not in ("running", "starting") or self._loop is None:
            if on_done is not None:
                on_done()
            raise ResourceUnavailable(self.name, f"executor is {self._state}")
        if len(self._pending) >= self.max_queue:
            if on_done is not None:
                on_done()
            raise ToolBusy(self.name, len(self._pending))
        job = _Job(fn, kwargs, self._loop, on_done)
        self._pending.add(job)
        job.future.add_done_callback(lambda _: self._pending.discard(job))
        self._jobs += 1
        self._tell(job)
        return await job.future

    def _tell(self, job: _Job) -> None:
        if self._ref is None:
            return  # resubmitted when the next actor is ready
        try:
            self._ref.tell(job)
        except pykka.ActorDeadError:
            pass  # the exit notification resubmits it

    def _spawn(self) -> None:
        self._state = "starting"
        self._ref = _ResourceActor.start(self._factory, self._close, self._notify)

    def _is_current(self, ref: pykka.ActorRef[Any]) -> bool:
        return self._ref is not None and ref.actor_urn == self._ref.actor_urn

    def _on_event(self, ref: pykka.ActorRef[Any], event: str, exc: BaseException | None) -> None:
        if event == "stopped" and self._exited is not None and not self._exited.done():
            self._exited.set_result(None)
        if self._state in ("stopped", "failed"):
            return
        if event == "ready":
            if self.supervision == "external" or self._is_current(ref):
                self._adopt(ref)
            return
        if self.supervision == "self":
            if self._is_current(ref):
                self._crashed(event, exc)
            return
        if self._is_current(ref) or (event == "start_failed" and self._ready is not None):
            self._ref = None
            self._state = "starting"
            log.warning("resource %r %s (%r); waiting for its supervisor", self.name, event, exc)
            if self._ready is not None and not self._ready.done():
                self._ready.set_exception(ResourceUnavailable(self.name, f"{event}: {exc!r}"))

    def _adopt(self, ref: pykka.ActorRef[Any]) -> None:
        self._ref = ref
        self._generation += 1
        self._state = "running"
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        for job in list(self._pending):
            if not job.started and not job.future.done():
                self._tell(job)

    def _crashed(self, event: str, exc: BaseException | None) -> None:
        if self._ready is not None and not self._ready.done():
            self._state = "failed"
            self._ref = None
            self._ready.set_exception(ResourceUnavailable(self.name, f"factory failed: {exc!r}"))
            self._fail_pending("failed to start")
            return
        now = time.monotonic()
        self._restarts.append(now)
        while self._restarts and now - self._restarts[0] > self.max_seconds:
            self._restarts.popleft()
        if len(self._restarts) > self.max_restarts:
            self._state = "failed"
            self._ref = None
            why = "resource %r: %d restarts within %.1f s, giving up (last: %s: %r)"
            log.error(why, self.name, len(self._restarts), self.max_seconds, event, exc)
            self._fail_pending(f"gave up after {len(self._restarts)} restarts")
            return
        log.warning("resource %r %s (%r); restarting", self.name, event, exc)
        self._total_restarts += 1
        self._spawn()

    def _fail_pending(self, why: str) -> None:
        for job in list(self._pending):
            job.complete(None, ResourceUnavailable(self.name, why))
        self._pending.clear()

    def stats(self) -> dict[str, Any]:
        """State, generation (actors adopted), restarts, queued jobs and jobs run."""
        return {
            "name": self.name,
            "state": self._state,
            "alive": self.alive,
            "generation": self._generation,
            "restarts": self._total_restarts,
            "pending": len(self._pending),
            "jobs": self._jobs,
        }

    def __repr__(self) -> str:
        return f"ResourceExecutor({self.name!r}, {self._state})"
