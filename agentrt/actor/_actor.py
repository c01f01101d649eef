"""The ``Actor`` base class and the ``Caller`` handle of a pending call.

Subclass :class:`Actor` and override the callbacks you need, all ``async def``
(Elixir's GenServer vocabulary):

- ``init(*args)``: runs when the actor is spawned, before any message. Its exception makes
  ``spawn`` raise ``InitError`` (and the actor exits with that reason); returning
  ``IGNORE`` makes ``spawn`` raise ``Ignored`` (nothing started, used by supervisors);
  returning ``Stop(reason)`` ends it with ``reason`` without raising (OTP's
  ``{stop, Reason}``: not logged as a crash; ``spawn`` raises ``InitError(reason)``);
  returning ``Continue(arg)`` acknowledges the start at once and runs
  ``handle_continue(arg)`` next (OTP's ``{ok, State, {continue, Arg}}``).
- ``handle_continue(arg)``: the slow part of a start (loading state, connecting), run
  after ``spawn`` has returned and before any message: messages sent meanwhile wait in the
  mailbox, in order. It crashes like any handler (``terminate`` runs, links, monitors and
  the supervisor see the reason, queued callers get ``ActorDead`` with it); it may return
  ``Continue(arg2)`` to chain, or ``Stop(reason)`` to stop (``terminate(reason)`` runs).
- ``handle_call(msg, caller)``: its return value is the reply. To answer later, keep
  ``caller``, return ``NOREPLY`` and call ``caller.reply(value)`` when ready.
- ``handle_cast(msg)``: fire-and-forget messages.
- ``handle_info(msg)``: everything else: ``ref.send()`` messages, timers, ``Down`` and
  (when trapping exits) ``Exit`` messages.
- ``terminate(reason)``: runs when the actor stops (``Node.stop``, ``self.stop()``, its
  parent's ``shutdown`` while trapping exits) and after a crash; never after ``kill`` or an
  untrapped exit signal.

An actor handles one message at a time, in arrival order; messages from one sender arrive
in send order. Idle, it owns no task.

Example::

    class Counter(Actor):
        async def init(self, start: int = 0) -> None:
            self.n = start

        async def handle_cast(self, msg: int) -> None:
            self.n += msg

        async def handle_call(self, msg: str, caller: Caller) -> int:
            return self.n

    async with Node() as node:
        ref = await node.spawn(Counter, 10)
        await ref.cast(5)
        assert await ref.call("get") == 15
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from agentrt.actor._errors import ActorDefinitionError
from agentrt.actor._signals import ExitReason, MonitorRef

if TYPE_CHECKING:
    from agentrt.actor._node import Node
    from agentrt.actor._ref import ActorRef
    from agentrt.actor._timers import TimerRef

__all__ = ["IGNORE", "NOREPLY", "Actor", "Caller", "Continue", "Stop"]

_log = logging.getLogger("agentrt.actor")


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: Returned by ``handle_call`` to defer the reply (answer later with ``caller.reply``).
NOREPLY: Final[Any] = _Sentinel("NOREPLY")
#: Returned by ``init`` to start nothing (``spawn`` raises ``Ignored``).
IGNORE: Final[Any] = _Sentinel("IGNORE")


@dataclass(frozen=True, slots=True)
class Stop:
    """Returned by ``init`` to refuse to start, with an exit ``reason`` (OTP's
    ``{stop, Reason}`` from ``init/1``). The actor exits with ``reason`` at once: links and
    monitors see it, ``terminate`` does not run, nothing is logged as a crash (the reason
    is a decision, not a bug), and ``spawn`` raises ``InitError`` whose ``reason`` is
    ``reason``. A supervisor whose child fails to start stops this way, with
    ``("shutdown", ("failed_to_start_child", id, why))``.

    Example::

        async def init(self, path: str) -> Any:
            if not os.path.exists(path):
                return Stop(("shutdown", "no_config"))
    """

    reason: ExitReason


@dataclass(frozen=True, slots=True)
class Continue:
    """Returned by ``init`` (or ``handle_continue``) to run ``handle_continue(arg)``
    before any message (OTP's ``{continue, Arg}``). ``spawn`` returns as soon as ``init``
    has: keep ``init`` cheap (bind names, check arguments) and move slow work (loading
    state from a store) to ``handle_continue``, so a supervisor starting many children is
    never held up by one. Messages sent meanwhile wait in the mailbox, in order; exit
    signals and ``kill`` act at once, as during any handler.

    ``lazy=True`` (beyond OTP; from ``init`` only): ``handle_continue`` is not scheduled
    at once but runs when the actor's first message or exit signal arrives, still ahead
    of it. An actor that is never addressed then costs no handler run and no scheduling
    at all (a swarm of agents that are mostly never talked to). ``kill`` ends such an
    actor without ``handle_continue`` having run; a ``Continue`` returned by
    ``handle_continue`` itself always runs at once.

    Example::

        async def init(self, key: str) -> Any:
            self.key = key
            return Continue("load")

        async def handle_continue(self, arg: str) -> None:
            self.state = await load(self.key)   # before the first message
    """

    arg: Any = None
    lazy: bool = False


_CALLBACKS = (
    "init",
    "handle_call",
    "handle_cast",
    "handle_info",
    "handle_continue",
    "terminate",
)


class Caller:
    """The pending reply of one ``call``.

    ``sender`` is the calling actor's ref, or None when the caller is not an actor.
    ``reply(value)`` answers; the first answer wins and later ones are ignored (as is a
    reply after the caller timed out).
    """

    __slots__ = ("_fut", "_owner", "_slot", "sender")

    def __init__(self, fut: asyncio.Future[Any], sender: ActorRef | None) -> None:
        self._fut: asyncio.Future[Any] | None = fut
        self.sender = sender
        self._slot = 0
        self._owner: Any = None  # the _Proc holding this caller as deferred

    def reply(self, value: Any) -> bool:
        """Send ``value`` as the reply. Returns False when the call was already answered,
        failed or timed out (the value is dropped)."""
        owner = self._owner
        if owner is not None:
            self._owner = None
            owner.forget_deferred(self)
        fut = self._fut
        if fut is None or fut.done():
            return False
        fut.set_result(value)
        return True

    def _fail(self, exc: BaseException) -> None:
        self._owner = None
        fut = self._fut
        if fut is not None and not fut.done():
            fut.set_exception(exc)

    @property
    def answered(self) -> bool:
        """True once the call has been replied to, failed or has timed out."""
        return self._fut is None or self._fut.done()

    def __repr__(self) -> str:
        return f"<Caller from {self.sender!r}{' answered' if self.answered else ''}>"


class Actor:
    """Base class of agentrt actors (see the module docs for the callbacks).

    Class attribute ``trap_exits`` (default False) sets whether exit signals from linked
    actors arrive as ``Exit`` messages instead of killing this actor; change it at run time
    with ``set_trap_exits``.
    """

    __slots__ = ("_ref",)

    _ref: ActorRef
    trap_exits: ClassVar[bool] = False
    _custom_init: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _CALLBACKS:
            fn = cls.__dict__.get(name)
            if fn is not None and not inspect.iscoroutinefunction(fn):
                raise ActorDefinitionError(
                    cls.__qualname__, name, "must be defined with 'async def'"
                )
        cls._custom_init = cls.init is not Actor.init

    # -- identity ----------------------------------------------------------------------

    @property
    def ref(self) -> ActorRef:
        """This actor's own ref."""
        return self._ref

    @property
    def node(self) -> Node:
        """The node this actor runs on."""
        return self._ref.node

    # -- callbacks (override) ------------------------------------------------------------

    async def init(self, *args: Any) -> Any:
        """Set up state; runs before any message. Default: nothing."""

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        """Answer a call. Default: crash, as an unexpected call is a bug."""
        raise NotImplementedError(f"{type(self).__qualname__} got an unexpected call: {msg!r}")

    async def handle_cast(self, msg: Any) -> None:
        """Handle a cast. Default: crash, as an unexpected cast is a bug."""
        raise NotImplementedError(f"{type(self).__qualname__} got an unexpected cast: {msg!r}")

    async def handle_info(self, msg: Any) -> None:
        """Handle any other message. Default: log it at warning level and carry on."""
        _log.warning("%r received an unexpected message: %r", self._ref, msg)

    async def handle_continue(self, arg: Any) -> Any:
        """Finish a start after ``init`` returned ``Continue(arg)``, before any message.
        May return ``Continue(arg2)`` (runs next) or ``Stop(reason)``. Default: crash, as
        a ``Continue`` nobody handles is a bug."""
        raise NotImplementedError(
            f"{type(self).__qualname__} returned Continue({arg!r}) but has no handle_continue"
        )

    async def terminate(self, reason: ExitReason) -> None:
        """Clean up before stopping (not run after ``kill``). Default: nothing."""

    # -- logging -------------------------------------------------------------------------

    def log_context(self) -> Mapping[str, Any] | None:
        """Attributes the runtime puts on the log records it writes about this actor
        (its crash, an event loop it blocked): logging's ``extra``, e.g. an agent's
        ``{"agent_id": ..., "model": ...}``, so that those records carry what the ones
        written inside its handlers do. Must be cheap, must not raise, and may be read
        from the loop watchdog's thread. Default: None (nothing added)."""
        return None

    # -- conveniences for code running inside the actor ----------------------------------

    def stop(self, reason: ExitReason = "normal") -> None:
        """Stop this actor with ``reason`` once the current handler returns
        (``terminate(reason)`` runs first)."""
        self._ref.node._request_self_stop(self._ref, reason)

    def set_trap_exits(self, flag: bool) -> None:
        """Trap exit signals (receive ``Exit`` messages) when ``flag`` is True."""
        self._ref.node._set_trap_exits(self._ref, flag)

    def link(self, other: ActorRef) -> None:
        """Link this actor with ``other`` (bidirectional)."""
        self._ref.node.link(self._ref, other)

    def unlink(self, other: ActorRef) -> None:
        """Remove the link with ``other`` (no-op when not linked)."""
        self._ref.node.unlink(self._ref, other)

    def monitor(self, other: ActorRef) -> MonitorRef:
        """Monitor ``other``: a ``Down`` message arrives when it exits."""
        return self._ref.node.monitor(self._ref, other)

    def demonitor(self, monitor: MonitorRef) -> None:
        """Remove a monitor set by this actor (a ``Down`` already queued stays queued)."""
        self._ref.node.demonitor(monitor)

    def exit(self, other: ActorRef, reason: ExitReason) -> None:
        """Send an exit signal with ``reason`` to ``other``, as this actor."""
        self._ref.node.exit(other, reason, sender=self._ref)

    def send_after(self, msg: Any, delay: float) -> TimerRef:
        """Deliver ``msg`` to this actor's ``handle_info`` after ``delay`` seconds."""
        return self._ref.node.send_after(self._ref, msg, delay)

    def send_interval(self, msg: Any, interval: float) -> TimerRef:
        """Deliver ``msg`` to ``handle_info`` every ``interval`` seconds until cancelled."""
        return self._ref.node.send_interval(self._ref, msg, interval)

    def __repr__(self) -> str:
        ref = getattr(self, "_ref", None)
        return f"<{type(self).__qualname__} {ref!r}>"
