"""What ``Supervisor`` and ``DynamicSupervisor`` share (private): starting a child,
shutting one down the OTP way, restart intensity, and the request protocol."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from agentrt.actor import (
    IGNORE,
    KILLED,
    SHUTDOWN,
    Actor,
    ActorDead,
    ActorRef,
    Caller,
    Exit,
    ExitReason,
    Ignored,
    InitError,
    NodeClosed,
    is_shutdown,
)
from agentrt.errors import ConfigError, InvalidArgument
from supervisors._backoff import RestartBackoff
from supervisors._errors import StartChildError, SupervisorError
from supervisors._reports import ReportHook, ReportKind, SupervisorReport, emit
from supervisors._spec import ChildSpec, ChildType, Restart

_log = logging.getLogger("supervisors")


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One row of ``which_children``: the child's ``id`` (its ref for a
    DynamicSupervisor), its current ``ref`` (None when not running), ``type`` and
    ``restart``."""

    id: Hashable
    ref: ActorRef | None
    type: ChildType
    restart: Restart


@dataclass(frozen=True, slots=True)
class SupervisorStats:
    """``restarts`` performed since start (failed attempts included), restarts within the
    current intensity window (``recent_restarts``) and the limit, running ``children``,
    and children ``waiting`` for a restart (a ``RestartBackoff`` delay, or a retry)."""

    restarts: int
    recent_restarts: int
    max_restarts: int
    max_seconds: float
    children: int
    waiting: int = 0


@dataclass(frozen=True, slots=True)
class ChildCounts:
    """``count_children``: child ``specs``, ``active`` (running) children, and how many
    are ``supervisors`` and ``workers``."""

    specs: int
    active: int
    supervisors: int
    workers: int


class _Child:
    __slots__ = ("attempts", "id", "ref", "spec", "started_at")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.id = spec.id
        self.ref: ActorRef | None = None
        self.attempts = 0  # consecutive restarts since it last ran stably (backoff)
        self.started_at = 0.0

    def info(self) -> ChildInfo:
        return ChildInfo(self.id, self.ref, self.spec.type, self.spec.restart)


class _StartFailed(Exception):
    def __init__(self, reason: Any) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _TryAgain:
    """Self-message: retry starting children whose restart failed."""

    ids: tuple[Any, ...]


def should_restart(restart: Restart, reason: ExitReason) -> bool:
    """OTP: permanent always, temporary never, transient on abnormal exits only."""
    if restart == "permanent":
        return True
    if restart == "temporary":
        return False
    return not is_shutdown(reason)


def check_options(
    max_restarts: Any, max_seconds: Any, backoff: Any = None, on_report: Any = None
) -> None:
    """``ConfigError`` naming the option a supervisor cannot start with."""
    if type(max_restarts) is not int or max_restarts < 0:
        raise ConfigError("max_restarts", f"must be an int >= 0, got {max_restarts!r}")
    if not isinstance(max_seconds, (int, float)) or max_seconds <= 0:
        raise ConfigError("max_seconds", f"must be a number > 0, got {max_seconds!r}")
    if backoff is not None and not isinstance(backoff, RestartBackoff):
        raise ConfigError("backoff", f"must be None or a RestartBackoff, got {backoff!r}")
    if on_report is not None and not callable(on_report):
        raise ConfigError("on_report", f"must be None or callable, got {on_report!r}")


async def request(sup: ActorRef, op: str, *args: Any, timeout: float | None = None) -> Any:
    """Send a supervisor request and raise the ``SupervisorError`` it answers with."""
    status, value = await sup.call((op, args), timeout=timeout)
    if status == "error":
        raise value
    return value


class SupervisorBase(Actor):
    """Shared machinery and client API; subclasses implement ``_child_exited`` and
    ``_try_again``."""

    trap_exits = True

    # -- client API shared by Supervisor and DynamicSupervisor -----------------------------

    @staticmethod
    async def which_children(sup: ActorRef) -> list[ChildInfo]:
        """Children newest first (reverse start order); ``ref`` None when not running (a
        DynamicSupervisor lists only running children, with their ref as id)."""
        result: list[ChildInfo] = await request(sup, "which_children")
        return result

    @staticmethod
    async def count_children(sup: ActorRef) -> ChildCounts:
        """How many child specs, running children, supervisors and workers."""
        result: ChildCounts = await request(sup, "count_children")
        return result

    @staticmethod
    async def stats(sup: ActorRef, timeout: float | None = None) -> SupervisorStats:
        """Restarts performed (in total and in the intensity window) and running children."""
        result: SupervisorStats = await request(sup, "stats", timeout=timeout)
        return result

    def _setup(
        self,
        max_restarts: int,
        max_seconds: float,
        backoff: RestartBackoff | None,
        on_report: ReportHook | None,
    ) -> None:
        self._max_restarts = max_restarts
        self._max_seconds = float(max_seconds)
        self._backoff = backoff
        self._on_report = on_report
        self._rng = random.Random()
        self._restarts: deque[float] = deque()
        self._restart_total = 0
        self._by_ref: dict[ActorRef, _Child] = {}
        self._stopping = False

    def _report(self, kind: ReportKind, child_id: Hashable, reason: Any) -> None:
        emit(SupervisorReport(kind, self.ref, child_id, reason), self._on_report)

    def _restart_delay(self, child: _Child) -> float | None:
        """Seconds to wait before restarting ``child`` (None: now, the OTP default).
        Counts the attempt; a child that ran ``reset_after_s`` starts over from min_s."""
        backoff = self._backoff
        if backoff is None:
            return None
        now = asyncio.get_running_loop().time()
        if child.started_at and now - child.started_at >= backoff.reset_after_s:
            child.attempts = 0
        child.started_at = 0.0  # a failed restart attempt does not make it stable
        delay = backoff.delay(child.attempts, self._rng)
        child.attempts += 1
        return delay

    def _waiting(self) -> int:
        return 0

    # -- requests --------------------------------------------------------------------------

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        op, args = msg
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            raise InvalidArgument("msg", f"unknown supervisor request {op!r}")
        try:
            return ("ok", await handler(*args))
        except SupervisorError as exc:
            return ("error", exc)

    async def handle_info(self, msg: Any) -> None:
        if self._stopping:
            return
        if isinstance(msg, Exit):
            child = self._by_ref.pop(msg.sender, None) if msg.sender is not None else None
            if child is not None and child.ref == msg.sender:
                child.ref = None
                if child.spec.restart == "permanent" or not is_shutdown(msg.reason):
                    self._report("child_terminated", child.id, msg.reason)
                await self._child_exited(child, msg.reason)
        elif isinstance(msg, _TryAgain):
            await self._try_again(msg.ids)
        else:
            _log.warning("supervisor %r got an unexpected message: %r", self.ref, msg)

    async def _op_stats(self) -> SupervisorStats:
        horizon = asyncio.get_running_loop().time() - self._max_seconds
        return SupervisorStats(
            restarts=self._restart_total,
            recent_restarts=sum(1 for t in self._restarts if t >= horizon),
            max_restarts=self._max_restarts,
            max_seconds=self._max_seconds,
            children=len(self._by_ref),
            waiting=self._waiting(),
        )

    async def _child_exited(self, child: _Child, reason: ExitReason) -> None:
        raise NotImplementedError

    async def _try_again(self, ids: tuple[Any, ...]) -> None:
        raise NotImplementedError

    # -- starting and stopping children ----------------------------------------------------

    async def _start(self, child: _Child) -> None:
        """Start ``child``; raises ``_StartFailed`` (reported as ``start_error``). An
        ignoring child keeps ref None."""
        try:
            ref = await self._call_start(child)
        except _StartFailed as exc:
            self._report("start_error", child.id, exc.reason)
            raise
        if ref is None:
            child.ref = None
            return
        self._register(child, ref)

    def _register(self, child: _Child, ref: ActorRef, now: float | None = None) -> None:
        """``child`` runs as ``ref`` (since ``now``, loop time; default: now): track it and
        make sure it is linked."""
        child.ref = ref
        child.started_at = asyncio.get_running_loop().time() if now is None else now
        self._by_ref[ref] = child
        try:
            self.link(ref)  # idempotent for children spawned with link=parent
        except ActorDead:  # it died already; make sure its exit is handled once
            self.ref.send(Exit(ref, "noproc"))

    async def _call_start(self, child: _Child) -> ActorRef | None:
        """The child's start function; None when it ignored; ``_StartFailed`` on failure
        (a nested supervisor's failed start gives its exit reason,
        ``("shutdown", ("failed_to_start_child", id, why))``, as OTP does)."""
        try:
            ref = await child.spec.start(self.node, self.ref)
        except Ignored:
            return None
        except InitError as exc:
            raise _StartFailed(exc.reason) from None
        except StartChildError as exc:
            raise _StartFailed(exc.exit_reason) from None
        except NodeClosed:
            raise  # the node is going down: nothing to restart, nothing to report
        except Exception as exc:
            raise _StartFailed(exc) from None
        if ref is IGNORE or ref is None:
            return None
        if not isinstance(ref, ActorRef):
            raise _StartFailed(TypeError(f"start of {child.id!r} returned {ref!r}, not a ref"))
        return ref

    async def _shutdown(self, child: _Child) -> ExitReason:
        """OTP shutdown: unlink, ``shutdown`` exit signal, wait up to the child's timeout,
        then kill. ``brutal_kill`` kills at once. An exit with another reason than the
        one asked for is reported as ``shutdown_error``."""
        expected = KILLED if child.spec.shutdown_timeout == "brutal_kill" else SHUTDOWN
        reason = await self._stop_child(child)
        self._check_shutdown(child, reason, expected)
        return reason

    def _check_shutdown(self, child: _Child, reason: ExitReason, expected: ExitReason) -> None:
        if reason != expected and reason != "noproc":
            self._report("shutdown_error", child.id, reason)

    async def _stop_child(self, child: _Child) -> ExitReason:
        ref = child.ref
        child.ref = None
        if ref is None:
            return "noproc"
        self._by_ref.pop(ref, None)
        node = self.node
        done = node.watch(ref)
        if done.done():
            return done.result()
        node.unlink(self.ref, ref)
        timeout = child.spec.shutdown_timeout
        if timeout == "brutal_kill":
            node.kill(ref)
            return KILLED
        node.exit(ref, SHUTDOWN, sender=self.ref)
        if done.done():
            return done.result()
        try:
            async with asyncio.timeout(timeout):
                return await done
        except TimeoutError:
            node.kill(ref)
            return KILLED

    async def _shutdown_all(self, children: list[_Child]) -> None:
        """Stop ``children`` one after the other, in the order given."""
        for child in children:
            if child.ref is not None:
                await self._shutdown(child)

    # -- intensity -----------------------------------------------------------------------

    def _add_restart(self, child_id: Hashable, reason: Any) -> bool:
        """Count a restart of ``child_id`` (which exited or failed to start with
        ``reason``); False (and this supervisor stops with ``shutdown``, reporting
        ``reached_max_restart_intensity``) when more than ``max_restarts`` fall within
        ``max_seconds``."""
        now = asyncio.get_running_loop().time()
        self._restart_total += 1
        restarts = self._restarts
        restarts.append(now)
        horizon = now - self._max_seconds
        while restarts and restarts[0] < horizon:
            restarts.popleft()
        if len(restarts) <= self._max_restarts:
            return True
        self._report("reached_max_restart_intensity", child_id, reason)
        self._stopping = True
        self.stop(SHUTDOWN)
        return False
