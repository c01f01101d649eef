"""``DynamicSupervisor``: children started on demand, all ``one_for_one``.

Semantics (Elixir's ``DynamicSupervisor``):

- Starts with no children; ``start_child(sup, spec)`` adds one. Beyond ``max_children``
  (default: no limit) it raises ``MaxChildren`` and starts nothing.
- Children are identified by their ref. A restarted child gets a new ref (look it up by
  registered name or with ``which_children``).
- Restart types as in ``Supervisor``; a child that is not restarted (temporary, or
  transient exiting normally) is removed.
- Intensity as in ``Supervisor`` (default 3 restarts in 5 s → exit ``shutdown``).
- On shutdown, children are stopped **concurrently**: all are sent ``shutdown`` at once;
  each is killed when its own shutdown timeout passes.

Example::

    agents = await DynamicSupervisor.start(node, max_children=10_000)
    ref = await DynamicSupervisor.start_child(agents, ChildSpec.worker("a1", Agent, cfg))
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

from agentrt.actor import SHUTDOWN, ActorRef, ExitReason, InitError, Node
from agentrt.errors import ConfigError
from supervisors.base import (
    ChildCounts,
    ChildInfo,
    SupervisorBase,
    _Child,
    _log,
    _StartFailed,
    _TryAgain,
    check_intensity,
    request,
    should_restart,
)
from supervisors.errors import ChildNotFound, MaxChildren, StartChildError, SupervisorError
from supervisors.spec import MAX_RESTARTS, MAX_SECONDS, ChildSpec

__all__ = ["DynamicSupervisor"]


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
    ) -> ActorRef:
        """Start an empty dynamic supervisor and return its ref."""
        if max_children is not None and (type(max_children) is not int or max_children < 0):
            raise ConfigError("max_children", f"must be None or an int >= 0, got {max_children!r}")
        check_intensity(max_restarts, max_seconds)
        try:
            return await node.spawn(
                cls, max_children, max_restarts, max_seconds, name=name, link=link
            )
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
    async def terminate_child(sup: ActorRef, child: ActorRef) -> None:
        """Stop and remove ``child``. Raises ``ChildNotFound`` if it is not a child."""
        await request(sup, "terminate_child", child)

    # -- the actor ---------------------------------------------------------------------------

    async def init(self, max_children: int | None, max_restarts: int, max_seconds: float) -> None:
        self._setup(max_restarts, max_seconds)
        self._max_children = max_children
        self._pending: dict[int, ChildSpec] = {}  # restarts that failed, awaiting retry
        self._next_retry = 0

    async def terminate(self, reason: ExitReason) -> None:
        self._stopping = True
        await self._shutdown_concurrently(list(self._by_ref.values()))

    async def _shutdown_concurrently(self, children: list[_Child]) -> None:
        node = self.node
        waits: list[tuple[asyncio.Future[Any], ActorRef, float | None]] = []
        for child in children:
            ref = child.ref
            child.ref = None
            if ref is None:
                continue
            self._by_ref.pop(ref, None)
            done = node.watch(ref)
            if done.done():
                continue
            node.unlink(self.ref, ref)
            timeout = child.spec.shutdown_timeout
            if timeout == "brutal_kill":
                node.kill(ref)
                continue
            node.exit(ref, SHUTDOWN, sender=self.ref)
            if not done.done():
                waits.append((done, ref, timeout))
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
        if not self._add_restart():
            return
        await self._restart(child.spec)

    async def _restart(self, spec: ChildSpec) -> None:
        child = _Child(spec)
        try:
            await self._start(child)
        except _StartFailed as exc:
            _log.error("supervisor %r failed to restart a child: %r", self.ref, exc.reason)
            if self._add_restart():
                key = self._next_retry
                self._next_retry += 1
                self._pending[key] = spec
                self.ref.send(_TryAgain((key,)))

    async def _try_again(self, ids: tuple[Any, ...]) -> None:
        for key in ids:
            spec = self._pending.pop(key, None)
            if spec is not None:
                await self._restart(spec)

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
