"""Adapters that make plain coroutines and pykka actors supervisable children.

Both are agentrt actors, so a supervisor treats them like any other child:

- ``TaskChild`` runs ``fn(*args)`` as its only work. Returning exits ``normal``; raising
  crashes it with the exception (logged once); a shutdown or kill cancels the coroutine.
- ``PykkaChild`` starts a pykka ``ThreadingActor`` (which keeps a blocking resource in its
  own thread) and mirrors its life. Its ``init`` returns once the pykka actor's
  ``on_start`` has run (OTP's ``start_link`` returns after ``init``), so an exception in
  ``on_start`` fails the child's start: ``Supervisor.start`` raises ``StartChildError``
  with that exception as the reason, and a failed restart counts as a restart and is
  retried. An ``on_start`` that never returns blocks the start. Once started, when the
  pykka actor fails (an exception in a message it was ``tell``-ed) or stops, the adapter
  exits with the same reason, and its supervisor restarts it by the usual rules. When the
  adapter stops, the pykka actor is stopped (blocking stop inside ``terminate``; a
  non-blocking stop request if the adapter is killed). pykka's own behaviour is
  unchanged: an exception in an ``ask``-ed message is returned to the asker and does not
  stop the actor.

Build them with ``ChildSpec.task`` and ``ChildSpec.pykka``; reach the pykka actor with
``await pykka_ref(child)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agentrt.actor import NORMAL, Actor, ActorError, ActorRef, Caller, ExitReason, Node

__all__ = ["PykkaChild", "TaskChild", "pykka_ref"]

_RUN = object()


class TaskChild(Actor):
    """Runs one coroutine function as a supervised child."""

    async def init(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        self._fn = fn
        self._args = args
        self.ref.send(_RUN)

    async def handle_info(self, msg: Any) -> None:
        if msg is _RUN:
            await self._fn(*self._args)
            self.stop(NORMAL)
        else:
            await super().handle_info(msg)


@dataclass(frozen=True, slots=True)
class _PykkaExit:
    reason: ExitReason


class _GetRef:
    pass


def _deliver(node: Node, ref: ActorRef, reason: ExitReason) -> None:
    if ref.alive:
        try:
            ref.send(_PykkaExit(reason))
        except ActorError:  # it is exiting anyway
            pass


def _settle(future: asyncio.Future[Exception | None], error: Exception | None) -> None:
    if not future.done():
        future.set_result(error)


def _watched(
    actor_class: type[Any],
    started: Callable[[Exception | None], None],
    ended: Callable[[ExitReason], None],
) -> type[Any]:
    """A subclass of ``actor_class`` that reports how its ``on_start`` went (``started``)
    and how its actor ends (``ended``)."""
    import pykka  # here, not at the top: ``import supervisors`` must not load pykka

    class Watched(actor_class):  # type: ignore[misc]
        def on_start(self) -> None:
            try:
                super().on_start()
            except BaseException as exc:
                # stop as pykka would (it only handles Exception), and only then report:
                # once the start has failed, the pykka actor is gone
                pykka.ActorRegistry.unregister(self.actor_ref)
                self.actor_stopped.set()
                if isinstance(exc, Exception):
                    started(exc)
                else:
                    why = f"on_start of {actor_class.__name__} raised {exc!r}"
                    started(RuntimeError(why).with_traceback(exc.__traceback__))
                return
            started(None)

        def on_stop(self) -> None:
            try:
                super().on_stop()
            finally:
                ended(NORMAL)

        def on_failure(self, exc_type: Any, exc_value: Any, tb: Any) -> None:
            try:
                super().on_failure(exc_type, exc_value, tb)
            finally:
                ended(exc_value)

    Watched.__name__ = actor_class.__name__
    Watched.__qualname__ = actor_class.__qualname__
    return Watched


class PykkaChild(Actor):
    """Owns one pykka ``ThreadingActor`` as a supervised child."""

    trap_exits = True

    async def init(
        self, actor_class: type[Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        loop = asyncio.get_running_loop()
        node, me = self.node, self.ref
        self._stopping = False
        on_start: asyncio.Future[Exception | None] = loop.create_future()

        def started(error: Exception | None) -> None:  # runs in the pykka thread
            loop.call_soon_threadsafe(_settle, on_start, error)

        def ended(reason: ExitReason) -> None:  # runs in the pykka thread
            loop.call_soon_threadsafe(_deliver, node, me, reason)

        cls = _watched(actor_class, started, ended)
        self._pykka = await asyncio.to_thread(cls.start, *args, **kwargs)
        pykka = self._pykka
        node.watch(me).add_done_callback(lambda _: pykka.stop(block=False))
        error = await on_start
        if error is not None:  # the pykka actor has stopped already
            raise error

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if isinstance(msg, _GetRef):
            return self._pykka
        return await super().handle_call(msg, caller)

    async def handle_info(self, msg: Any) -> None:
        if isinstance(msg, _PykkaExit):
            if not self._stopping:
                self.stop(msg.reason)
        else:
            await super().handle_info(msg)

    async def terminate(self, reason: ExitReason) -> None:
        self._stopping = True
        if self._pykka.is_alive():
            await asyncio.to_thread(self._pykka.stop, block=True)


async def pykka_ref(child: ActorRef, timeout: float | None = 5.0) -> Any:
    """The pykka ``ActorRef`` owned by a ``ChildSpec.pykka`` child."""
    return await child.call(_GetRef(), timeout=timeout)
