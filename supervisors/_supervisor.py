"""``Supervisor``: OTP supervision of a fixed, ordered list of children.

Semantics (Elixir's ``Supervisor`` / Erlang's ``supervisor``):

- Children start in list order. If one fails to start, those already started are stopped
  in reverse order, the supervisor exits with ``("shutdown", ("failed_to_start_child",
  id, reason))`` (a shutdown, not a crash: OTP's) and ``start`` raises
  ``StartChildError`` (``reason`` ``("failed_to_start_child", id, reason)``). A parent
  starting it sees that exit reason as its child's start failure. A child whose ``init``
  returns ``IGNORE`` is kept with no process.
- Strategies: ``one_for_one`` restarts the failed child; ``one_for_all`` stops all other
  children (reverse start order) then starts all in order; ``rest_for_one`` stops the
  children started after the failed one (reverse order), then restarts it and them.
- Restart types: ``permanent`` always; ``transient`` unless the reason is ``normal``,
  ``shutdown`` or ``("shutdown", term)``; ``temporary`` never, and a temporary child
  stopped because of a sibling is removed. A transient child that exited normally keeps
  its spec (``restart_child`` works).
- A restarted child keeps its position. ``which_children`` lists newest first.
- Intensity: more than ``max_restarts`` (default 3) restarts within ``max_seconds``
  (default 5) → all children are stopped (reverse order) and the supervisor exits with
  ``shutdown``; its parent applies its own restart rules to that. A restart that fails to
  start counts as a restart and is retried.
- Shutdown (its parent's ``shutdown``, ``Node.stop``, intensity): children are stopped in
  reverse start order, each sent ``shutdown`` and killed after its shutdown timeout.
- Reports (``on_report``, the ``supervisors`` logger): ``child_terminated``,
  ``start_error``, ``shutdown_error``, ``reached_max_restart_intensity`` (see
  ``supervisors._reports``).
- ``backoff=RestartBackoff(...)`` (beyond OTP, off by default) delays each restart; with
  ``one_for_all``/``rest_for_one`` the siblings are stopped at once and the group is
  started after the delay (see ``supervisors._backoff``).

Example::

    sup = await Supervisor.start(node, [
        ChildSpec.worker("db", Db),
        ChildSpec.worker("cache", Cache, restart="transient"),
    ], strategy="rest_for_one", max_restarts=5, max_seconds=10)
    await Supervisor.which_children(sup)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, get_args

from agentrt.actor import ActorRef, ExitReason, InitError, Node, Stop
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
from supervisors._errors import (
    AlreadyPresent,
    AlreadyStarted,
    ChildNotFound,
    ChildRunning,
    StartChildError,
    SupervisorError,
)
from supervisors._reports import ReportHook
from supervisors._spec import MAX_RESTARTS, MAX_SECONDS, ChildSpec, Strategy

__all__ = ["Supervisor"]


def _failed_start(reason: Any) -> StartChildError | None:
    """The ``StartChildError`` a supervisor's exit reason
    ``("shutdown", ("failed_to_start_child", id, why))`` stands for, else None."""
    if isinstance(reason, tuple) and len(reason) == 2 and reason[0] == "shutdown":
        inner = reason[1]
        if isinstance(inner, tuple) and len(inner) == 3 and inner[0] == "failed_to_start_child":
            return StartChildError(inner[1], inner[2])
    return None


_STRATEGIES = frozenset(get_args(Strategy))


class Supervisor(SupervisorBase):
    """A supervisor of an ordered list of children (see the module docs)."""

    # -- client API ------------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        node: Node,
        children: Sequence[ChildSpec],
        *,
        strategy: Strategy = "one_for_one",
        max_restarts: int = MAX_RESTARTS,
        max_seconds: float = MAX_SECONDS,
        name: Hashable | None = None,
        link: ActorRef | None = None,
        backoff: RestartBackoff | None = None,
        on_report: ReportHook | None = None,
    ) -> ActorRef:
        """Start a supervisor and its children in order; returns its ref once all started.
        Raises ``StartChildError`` when a child fails to start (nothing is left running).
        ``backoff``: delay restarts (beyond OTP; None restarts at once). ``on_report``:
        called with each ``SupervisorReport``."""
        if strategy not in _STRATEGIES:
            raise ConfigError("strategy", f"must be one of {sorted(_STRATEGIES)}, got {strategy!r}")
        check_options(max_restarts, max_seconds, backoff, on_report)
        specs = list(children)
        for spec in specs:
            if not isinstance(spec, ChildSpec):
                raise ConfigError("children", f"expected ChildSpec, got {spec!r}")
        ids = [s.id for s in specs]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ConfigError("children", f"duplicate child id {dup!r}")
        opts = (strategy, max_restarts, max_seconds, backoff, on_report)
        try:
            return await node.spawn(cls, specs, *opts, name=name, link=link)
        except InitError as exc:
            failed = _failed_start(exc.reason)
            if failed is not None:
                raise failed from None
            if isinstance(exc.reason, SupervisorError):
                raise exc.reason from None
            raise

    @staticmethod
    async def start_child(sup: ActorRef, spec: ChildSpec) -> ActorRef | None:
        """Add ``spec`` at the end and start it. Raises ``AlreadyStarted`` /
        ``AlreadyPresent`` for a known id, ``StartChildError`` if it fails (not added)."""
        if not isinstance(spec, ChildSpec):
            raise ConfigError("child", f"expected ChildSpec, got {spec!r}")
        result: ActorRef | None = await request(sup, "start_child", spec)
        return result

    @staticmethod
    async def terminate_child(sup: ActorRef, child_id: Hashable) -> None:
        """Stop a child (its spec stays, unless it is temporary). ``ChildNotFound``."""
        await request(sup, "terminate_child", child_id)

    @staticmethod
    async def restart_child(sup: ActorRef, child_id: Hashable) -> ActorRef | None:
        """Start a stopped child again. ``ChildRunning``, ``ChildNotFound``,
        ``StartChildError``."""
        result: ActorRef | None = await request(sup, "restart_child", child_id)
        return result

    @staticmethod
    async def delete_child(sup: ActorRef, child_id: Hashable) -> None:
        """Remove a stopped child's spec. ``ChildRunning``, ``ChildNotFound``."""
        await request(sup, "delete_child", child_id)

    # -- the actor ---------------------------------------------------------------------------

    async def init(
        self,
        specs: list[ChildSpec],
        strategy: Strategy,
        max_restarts: int,
        max_seconds: float,
        backoff: RestartBackoff | None,
        on_report: ReportHook | None,
    ) -> Stop | None:
        self._setup(max_restarts, max_seconds, backoff, on_report)
        self._strategy = strategy
        self._children: list[_Child] = []
        self._waiting_ids: set[Hashable] = set()
        for spec in specs:
            child = _Child(spec)
            try:
                await self._start(child)
            except _StartFailed as exc:
                await self._shutdown_all(self._children[::-1])
                return Stop(StartChildError(spec.id, exc.reason).exit_reason)
            self._children.append(child)
        return None

    def _waiting(self) -> int:
        return len(self._waiting_ids)

    async def terminate(self, reason: ExitReason) -> None:
        self._stopping = True
        await self._shutdown_all(self._children[::-1])

    def _find(self, child_id: Hashable) -> _Child:
        for child in self._children:
            if child.id == child_id:
                return child
        raise ChildNotFound(child_id)

    def _remove(self, child: _Child) -> None:
        self._children.remove(child)

    async def _child_exited(self, child: _Child, reason: ExitReason) -> None:
        if not should_restart(child.spec.restart, reason):
            if child.spec.restart == "temporary":
                self._remove(child)
            return
        if not self._add_restart(child.id, reason):
            return
        delay = self._restart_delay(child)
        children = self._children
        if self._strategy == "one_for_one":
            targets = [child]
        else:
            index = children.index(child)
            affected = children if self._strategy == "one_for_all" else children[index:]
            others = [c for c in affected if c is not child]
            await self._shutdown_all(others[::-1])
            for c in others:
                if c.spec.restart == "temporary":
                    self._remove(c)
            targets = [c for c in affected if c in children]
        if delay is None:
            await self._start_in_order(targets)
        else:
            self._retry_later(targets, delay)

    def _retry_later(self, targets: list[_Child], delay: float | None) -> None:
        """Start ``targets`` again in order, after ``delay`` seconds (None: next message)."""
        ids = tuple(c.id for c in targets)
        self._waiting_ids.update(ids)
        if delay is None:
            self.ref.send(_TryAgain(ids))
        else:
            self.send_after(_TryAgain(ids), delay)

    async def _start_in_order(self, targets: list[_Child]) -> None:
        for i, child in enumerate(targets):
            if child.ref is not None or child not in self._children:
                continue
            try:
                await self._start(child)
            except _StartFailed as exc:
                if self._add_restart(child.id, exc.reason):
                    self._retry_later(targets[i:], self._restart_delay(child))
                return

    async def _try_again(self, ids: tuple[Any, ...]) -> None:
        self._waiting_ids.difference_update(ids)
        targets = [c for c in self._children if c.id in ids and c.ref is None]
        await self._start_in_order(targets)

    # -- request handlers --------------------------------------------------------------------

    async def _op_which_children(self) -> list[ChildInfo]:
        return [c.info() for c in reversed(self._children)]

    async def _op_count_children(self) -> ChildCounts:
        sups = sum(1 for c in self._children if c.spec.type == "supervisor")
        active = sum(1 for c in self._children if c.ref is not None)
        n = len(self._children)
        return ChildCounts(specs=n, active=active, supervisors=sups, workers=n - sups)

    async def _op_start_child(self, spec: ChildSpec) -> ActorRef | None:
        for c in self._children:
            if c.id == spec.id:
                if c.ref is not None:
                    raise AlreadyStarted(spec.id, c.ref)
                raise AlreadyPresent(spec.id)
        child = _Child(spec)
        try:
            await self._start(child)
        except _StartFailed as exc:
            raise StartChildError(spec.id, exc.reason) from None
        self._children.append(child)
        return child.ref

    async def _op_terminate_child(self, child_id: Hashable) -> None:
        child = self._find(child_id)
        await self._shutdown(child)
        if child.spec.restart == "temporary":
            self._remove(child)

    async def _op_restart_child(self, child_id: Hashable) -> ActorRef | None:
        child = self._find(child_id)
        if child.ref is not None:
            raise ChildRunning(child_id)
        try:
            await self._start(child)
        except _StartFailed as exc:
            raise StartChildError(child_id, exc.reason) from None
        return child.ref

    async def _op_delete_child(self, child_id: Hashable) -> None:
        child = self._find(child_id)
        if child.ref is not None:
            raise ChildRunning(child_id)
        self._remove(child)
