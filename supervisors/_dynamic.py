"""``DynamicSupervisor``: children started on demand, all ``one_for_one``.

Semantics (Elixir's ``DynamicSupervisor``):

- Starts with no children; ``start_child(sup, spec)`` adds one. Beyond ``max_children``
  (default: no limit) it raises ``MaxChildren`` and starts nothing.
  ``start_children(sup, specs)`` (beyond OTP) starts a batch in one request.
- Children are identified by their ref. A restarted child gets a new ref (look it up by
  registered name or with ``which_children``).
- Restart types as in ``Supervisor``; a child that is not restarted (temporary, or
  transient exiting normally) is removed.
- Intensity as in ``Supervisor`` (default 3 restarts in 5 s → exit ``shutdown``).
- On shutdown, children are stopped **concurrently**: all are sent ``shutdown`` at once;
  each is killed when its own shutdown timeout passes.
- Reports (``on_report``, the ``supervisors`` logger) as in ``Supervisor``.
- ``backoff=RestartBackoff(...)`` (beyond OTP, off by default) delays each restart (see
  ``supervisors._backoff``). A child waiting for its restart counts towards
  ``max_children``; ``stats().waiting`` counts them.

Example::

    agents = await DynamicSupervisor.start(node, max_children=10_000)
    ref = await DynamicSupervisor.start_child(agents, ChildSpec.worker("a1", Agent, cfg))
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from agentrt.actor import KILLED, SHUTDOWN, ActorRef, ExitReason, InitError, Node
from agentrt.errors import ConfigError
from supervisors._backoff import RestartBackoff
from supervisors._base import (
    ChildCounts,
    ChildInfo,
    SupervisorBase,
    _Child,
    _StartFailed,
    _TryAgain,
    check_options,
    request,
    should_restart,
)
from supervisors._errors import ChildNotFound, MaxChildren, StartChildError, SupervisorError
from supervisors._reports import ReportHook
from supervisors._spec import MAX_RESTARTS, MAX_SECONDS, ChildSpec

__all__ = ["DynamicSupervisor"]


@dataclass(frozen=True, slots=True)
class _Adopt:
    """Cast of ``adopt_child``: register ``ref``, already started from ``spec``."""

    spec: ChildSpec
    ref: ActorRef


def _infinite_last(timeout: float | None) -> float:
    return float("inf") if timeout is None else timeout


class DynamicSupervisor(SupervisorBase):
    """A one_for_one supervisor of children added at run time (see the module docs)."""

    @classmethod
    async def start(
        cls,
        node: Node,
        *,
        max_children: int | None = None,
        max_restarts: int = MAX_RESTARTS,
        max_seconds: float = MAX_SECONDS,
        name: Hashable | None = None,
        link: ActorRef | None = None,
        backoff: RestartBackoff | None = None,
        on_report: ReportHook | None = None,
    ) -> ActorRef:
        """Start an empty dynamic supervisor and return its ref. ``backoff``: delay
        restarts (beyond OTP; None restarts at once). ``on_report``: called with each
        ``SupervisorReport``."""
        if max_children is not None and (type(max_children) is not int or max_children < 0):
            raise ConfigError("max_children", f"must be None or an int >= 0, got {max_children!r}")
        check_options(max_restarts, max_seconds, backoff, on_report)
        opts = (max_children, max_restarts, max_seconds, backoff, on_report)
        try:
            return await node.spawn(cls, *opts, name=name, link=link)
        except InitError as exc:  # pragma: no cover - init has no failure path of its own
            if isinstance(exc.reason, SupervisorError):
                raise exc.reason from None
            raise

    @staticmethod
    async def start_child(sup: ActorRef, spec: ChildSpec) -> ActorRef | None:
        """Start a child from ``spec``; None when its init returned IGNORE. Raises
        ``MaxChildren`` when full, ``StartChildError`` when it fails to start."""
        if not isinstance(spec, ChildSpec):
            raise ConfigError("child", f"expected ChildSpec, got {spec!r}")
        result: ActorRef | None = await request(sup, "start_child", spec)
        return result

    @staticmethod
    async def start_children(
        sup: ActorRef, specs: Sequence[ChildSpec]
    ) -> list[ActorRef | SupervisorError | None]:
        """Start the children of ``specs`` in order, in one request (beyond OTP: one round
        trip for a batch, as a swarm spawns). Returns one entry per spec: its ref, None
        when its init returned IGNORE, or the error ``start_child`` would have raised
        (``MaxChildren``, ``StartChildError``) as a value; a failure does not stop the
        others. The supervisor handles nothing else meanwhile: keep batches to a few
        hundred children whose ``init`` is cheap."""
        specs = list(specs)
        for spec in specs:
            if not isinstance(spec, ChildSpec):
                raise ConfigError("child", f"expected ChildSpec, got {spec!r}")
        result: list[ActorRef | SupervisorError | None] = await request(
            sup, "start_children", specs
        )
        return result

    @staticmethod
    async def adopt_child(sup: ActorRef, spec: ChildSpec, ref: ActorRef) -> None:
        """Make ``ref`` a child of ``sup`` under ``spec``: the caller has already started
        it with ``spec.start(node, sup)`` (so it is linked to ``sup``, its parent). Beyond
        OTP: the start runs in the caller, so it never queues behind the supervisor's
        other work; the supervisor only registers the child, when it reads the request.
        That request is queued ahead of any exit signal of the child (unless ``sup``'s
        mailbox is full and this call waits for space), so an exit is never missed;
        restarts use ``spec.start`` as usual. ``max_children`` is not checked: use
        ``start_child`` where it must hold. Raises ``ActorDead`` if ``sup`` is not alive."""
        if not isinstance(spec, ChildSpec):
            raise ConfigError("child", f"expected ChildSpec, got {spec!r}")
        await sup.cast(_Adopt(spec, ref))

    @staticmethod
    async def terminate_child(sup: ActorRef, child: ActorRef) -> None:
        """Stop and remove ``child``. Raises ``ChildNotFound`` if it is not a child."""
        await request(sup, "terminate_child", child)

    # -- the actor ---------------------------------------------------------------------------

    async def init(
        self,
        max_children: int | None,
        max_restarts: int,
        max_seconds: float,
        backoff: RestartBackoff | None,
        on_report: ReportHook | None,
    ) -> None:
        self._setup(max_restarts, max_seconds, backoff, on_report)
        self._max_children = max_children
        self._pending: dict[int, _Child] = {}  # restarts awaiting their (re)try
        self._next_retry = 0

    def _waiting(self) -> int:
        return len(self._pending)

    async def handle_cast(self, msg: Any) -> None:
        if not isinstance(msg, _Adopt):
            await super().handle_cast(msg)
        elif not self._stopping:  # stopping: the link stops the child with this supervisor
            child = _Child(msg.spec)
            self._register(child, msg.ref)

    async def terminate(self, reason: ExitReason) -> None:
        self._stopping = True
        await self._shutdown_concurrently(list(self._by_ref.values()))

    async def _shutdown_concurrently(self, children: list[_Child]) -> None:
        node = self.node
        waits: list[tuple[asyncio.Future[Any], ActorRef, float | None]] = []
        stopped: list[tuple[_Child, asyncio.Future[Any], ExitReason]] = []
        for child in children:
            ref = child.ref
            child.ref = None
            if ref is None:
                continue
            self._by_ref.pop(ref, None)
            done = node.watch(ref)
            timeout = child.spec.shutdown_timeout
            stopped.append((child, done, KILLED if timeout == "brutal_kill" else SHUTDOWN))
            if done.done():
                continue
            node.unlink(self.ref, ref)
            if timeout == "brutal_kill":
                node.kill(ref)
                continue
            node.exit(ref, SHUTDOWN, sender=self.ref)
            if not done.done():
                waits.append((done, ref, timeout))
        await self._wait_or_kill(waits)
        for child, done, expected in stopped:
            self._check_shutdown(child, done.result() if done.done() else KILLED, expected)

    async def _wait_or_kill(
        self, waits: list[tuple[asyncio.Future[Any], ActorRef, float | None]]
    ) -> None:
        """Wait for each child to exit within its own timeout (from now); kill the rest."""
        node = self.node
        loop = asyncio.get_running_loop()
        start = loop.time()
        for timeout in sorted({t for _, _, t in waits}, key=_infinite_last):
            group = [(f, r) for f, r, t in waits if t == timeout and not f.done()]
            if not group:
                continue
            remaining = None if timeout is None else max(0.0, start + timeout - loop.time())
            await asyncio.wait([f for f, _ in group], timeout=remaining)
            for fut, ref in group:
                if not fut.done():
                    node.kill(ref)

    async def _child_exited(self, child: _Child, reason: ExitReason) -> None:
        if not should_restart(child.spec.restart, reason):
            return
        if not self._add_restart(child.id, reason):
            return
        delay = self._restart_delay(child)
        if delay is None:
            await self._restart(child)
        else:
            self._retry_later(child, delay)

    async def _restart(self, child: _Child) -> None:
        try:
            await self._start(child)
        except _StartFailed as exc:
            if self._add_restart(child.id, exc.reason):
                self._retry_later(child, self._restart_delay(child))

    def _retry_later(self, child: _Child, delay: float | None) -> None:
        """Restart ``child`` after ``delay`` seconds (None: at the next message)."""
        key = self._next_retry
        self._next_retry += 1
        self._pending[key] = child
        if delay is None:
            self.ref.send(_TryAgain((key,)))
        else:
            self.send_after(_TryAgain((key,)), delay)

    async def _try_again(self, ids: tuple[Any, ...]) -> None:
        for key in ids:
            child = self._pending.pop(key, None)
            if child is not None:
                await self._restart(child)

    # -- request handlers --------------------------------------------------------------------

    async def _op_start_child(self, spec: ChildSpec) -> ActorRef | None:
        limit = self._max_children
        if limit is not None and len(self._by_ref) + len(self._pending) >= limit:
            raise MaxChildren(limit)
        child = _Child(spec)
        try:
            await self._start(child)
        except _StartFailed as exc:
            raise StartChildError(spec.id, exc.reason) from None
        return child.ref

    async def _op_start_children(
        self, specs: list[ChildSpec]
    ) -> list[ActorRef | SupervisorError | None]:
        """``_op_start_child`` for each spec, in one bookkeeping pass: the room left under
        ``max_children`` and the start time are read once for the batch."""
        limit = self._max_children
        room = len(specs) if limit is None else limit - len(self._by_ref) - len(self._pending)
        now = asyncio.get_running_loop().time()
        started: list[ActorRef | SupervisorError | None] = []
        for spec in specs:
            if room <= 0:
                started.append(MaxChildren(limit or 0))
                continue
            child = _Child(spec)
            try:
                ref = await self._call_start(child)
            except _StartFailed as exc:
                self._report("start_error", child.id, exc.reason)
                started.append(StartChildError(spec.id, exc.reason))
                continue
            if ref is not None:
                self._register(child, ref, now)
                room -= 1
            started.append(ref)
        return started

    async def _op_terminate_child(self, ref: ActorRef) -> None:
        child = self._by_ref.get(ref)
        if child is None:
            raise ChildNotFound(ref)
        await self._shutdown(child)

    async def _op_which_children(self) -> list[ChildInfo]:
        return [
            ChildInfo(ref, ref, c.spec.type, c.spec.restart)
            for ref, c in reversed(self._by_ref.items())
        ]

    async def _op_count_children(self) -> ChildCounts:
        sups = sum(1 for c in self._by_ref.values() if c.spec.type == "supervisor")
        n = len(self._by_ref)
        return ChildCounts(specs=n, active=n, supervisors=sups, workers=n - sups)
