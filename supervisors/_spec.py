"""Child specifications: what a supervisor starts, restarts and stops, and how.

A child is anything a start function can turn into an agentrt actor linked to the
supervisor (the child protocol). The constructors cover the common kinds:

- ``ChildSpec.worker(id, ActorClass, *args)``: an agentrt actor.
- ``ChildSpec.supervisor(id, children, ...)`` / ``ChildSpec.dynamic_supervisor(id, ...)``:
  a nested supervisor (trees nest; default shutdown ``"infinity"``).
- ``ChildSpec.task(id, coroutine_function, *args)``: a plain coroutine run as an actor
  (default restart ``temporary``, shutdown 5 s, as Elixir's ``Task``).
- ``ChildSpec.pykka(id, ThreadingActorClass, *args)``: a pykka ``ThreadingActor`` that owns
  a blocking resource in its thread; a crash of it restarts like any other child.

Defaults (OTP's): ``restart="permanent"``; ``shutdown`` 5.0 s for workers and ``"infinity"``
for supervisors; ``"brutal_kill"`` kills at once without ``terminate``. Restart intensity
(every supervisor, static or dynamic): at most ``MAX_RESTARTS`` (3) restarts within
``MAX_SECONDS`` (5 s), Elixir's defaults; this module is their one home.

A custom ``start(node, parent)`` must spawn its actor with ``link=parent`` (so the child
knows its parent) and return its ref; raising ``Ignored`` (or returning ``IGNORE``) records
the child with no process.

Example::

    children = [
        ChildSpec.worker("cache", Cache, restart="permanent"),
        ChildSpec.supervisor("agents", [...], strategy="one_for_all"),
        ChildSpec.task("warmup", warm_cache, restart="transient"),
    ]
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from agentrt.actor import Actor, ActorRef, MailboxConfig, Node
from agentrt.errors import ConfigError
from supervisors._backoff import RestartBackoff
from supervisors._reports import ReportHook

__all__ = [
    "MAX_RESTARTS",
    "MAX_SECONDS",
    "ChildSpec",
    "ChildType",
    "Restart",
    "Shutdown",
    "StartFn",
    "Strategy",
]

#: Default restart intensity of every supervisor: ``MAX_RESTARTS`` in ``MAX_SECONDS``.
MAX_RESTARTS = 3
MAX_SECONDS = 5.0

Restart = Literal["permanent", "transient", "temporary"]
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
ChildType = Literal["worker", "supervisor"]
#: Seconds to wait for a child to stop before killing it, ``"infinity"``, or ``"brutal_kill"``.
Shutdown = float | Literal["brutal_kill", "infinity"]
#: ``start(node, parent)`` spawns the child linked to ``parent`` and returns its ref.
StartFn = Callable[[Node, ActorRef], Awaitable[Any]]

_ActorClass = type[Actor]  # aliases: inside ChildSpec, "type" is the field
_AnyClass = type[Any]
_RESTARTS = frozenset(get_args(Restart))
_TYPES = frozenset(get_args(ChildType))


class _SpawnWorker:
    """The start function of ``ChildSpec.worker``: one small object per child (a
    closure would hold a function and five cells, all walked by the garbage collector)."""

    __slots__ = ("actor_class", "args", "mailbox", "name")

    def __init__(
        self,
        actor_class: type[Actor],
        args: tuple[Any, ...],
        name: Hashable | None,
        mailbox: MailboxConfig | None,
    ) -> None:
        self.actor_class = actor_class
        self.args = args
        self.name = name
        self.mailbox = mailbox

    async def __call__(self, node: Node, parent: ActorRef) -> ActorRef:
        return await node.spawn(
            self.actor_class, *self.args, name=self.name, mailbox=self.mailbox, link=parent
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ChildSpec:
    """How to start, restart and stop one child (see the module docs)."""

    id: Hashable
    start: StartFn
    restart: Restart = "permanent"
    shutdown: Shutdown | None = None
    type: ChildType = "worker"

    def __post_init__(self) -> None:
        try:
            hash(self.id)
        except TypeError:
            raise ConfigError("child.id", f"must be hashable, got {self.id!r}") from None
        if not callable(self.start):
            raise ConfigError("child.start", f"must be callable, got {self.start!r}")
        if self.restart not in _RESTARTS:
            raise ConfigError(
                "child.restart", f"must be one of {sorted(_RESTARTS)}, got {self.restart!r}"
            )
        if self.type not in _TYPES:
            raise ConfigError("child.type", f"must be one of {sorted(_TYPES)}, got {self.type!r}")
        s = self.shutdown
        ok = s is None or s in ("brutal_kill", "infinity")
        ok = ok or (isinstance(s, (int, float)) and not isinstance(s, bool) and s >= 0)
        if not ok:
            raise ConfigError(
                "child.shutdown",
                f'must be seconds >= 0, "infinity" or "brutal_kill", got {s!r}',
            )

    @classmethod
    def batch(
        cls,
        children: Iterable[tuple[Hashable, StartFn]],
        *,
        restart: Restart = "permanent",
        shutdown: Shutdown | None = None,
        type: ChildType = "worker",
    ) -> list[ChildSpec]:
        """Specs that differ only in ``id`` and ``start``, one per ``(id, start)`` of
        ``children`` (beyond OTP: a swarm's children): the same as ``[ChildSpec(id=i,
        start=s, restart=restart, ...) for i, s in children]``, with the shared settings
        checked once. Raises ``ConfigError`` as the constructor does (the first spec is
        built by it; each other id must be hashable and each start callable)."""
        specs: list[ChildSpec] = []
        new = object.__new__
        put = object.__setattr__
        for child_id, start in children:
            if not specs:  # the constructor checks the shared settings, once
                specs.append(
                    cls(id=child_id, start=start, restart=restart, shutdown=shutdown, type=type)
                )
                continue
            try:
                hash(child_id)
            except TypeError:
                raise ConfigError("child.id", f"must be hashable, got {child_id!r}") from None
            if not callable(start):
                raise ConfigError("child.start", f"must be callable, got {start!r}")
            spec = new(cls)
            put(spec, "id", child_id)
            put(spec, "start", start)
            put(spec, "restart", restart)
            put(spec, "shutdown", shutdown)
            put(spec, "type", type)
            specs.append(spec)
        return specs

    @property
    def shutdown_timeout(self) -> float | Literal["brutal_kill"] | None:
        """Seconds to wait before killing (None = wait forever), or ``"brutal_kill"``."""
        s = self.shutdown
        if s is None:
            return None if self.type == "supervisor" else 5.0
        if s == "brutal_kill":
            return "brutal_kill"
        if s == "infinity" or (isinstance(s, float) and math.isinf(s)):
            return None
        return float(s)

    # -- constructors -----------------------------------------------------------------------

    @classmethod
    def worker(
        cls,
        id: Hashable,
        actor_class: _ActorClass,
        *args: Any,
        restart: Restart = "permanent",
        shutdown: Shutdown | None = None,
        name: Hashable | None = None,
        mailbox: MailboxConfig | None = None,
    ) -> ChildSpec:
        """An agentrt actor started with ``init(*args)``; ``name`` registers it."""
        if not (isinstance(actor_class, type) and issubclass(actor_class, Actor)):
            raise ConfigError("child.start", f"{actor_class!r} is not an Actor subclass")
        start = _SpawnWorker(actor_class, args, name, mailbox)
        return cls(id=id, start=start, restart=restart, shutdown=shutdown, type="worker")

    @classmethod
    def supervisor(
        cls,
        id: Hashable,
        children: Sequence[ChildSpec],
        *,
        strategy: Strategy = "one_for_one",
        max_restarts: int = MAX_RESTARTS,
        max_seconds: float = MAX_SECONDS,
        restart: Restart = "permanent",
        shutdown: Shutdown | None = None,
        name: Hashable | None = None,
        backoff: RestartBackoff | None = None,
        on_report: ReportHook | None = None,
    ) -> ChildSpec:
        """A nested ``Supervisor`` of ``children`` (``backoff``, ``on_report``: as in
        ``Supervisor.start``)."""
        from supervisors._supervisor import Supervisor

        opts = {
            "strategy": strategy,
            "max_restarts": max_restarts,
            "max_seconds": max_seconds,
            "backoff": backoff,
            "on_report": on_report,
        }

        async def start(node: Node, parent: ActorRef) -> ActorRef:
            return await Supervisor.start(node, children, name=name, link=parent, **opts)  # type: ignore[arg-type]

        return cls(id=id, start=start, restart=restart, shutdown=shutdown, type="supervisor")

    @classmethod
    def dynamic_supervisor(
        cls,
        id: Hashable,
        *,
        max_children: int | None = None,
        max_restarts: int = MAX_RESTARTS,
        max_seconds: float = MAX_SECONDS,
        restart: Restart = "permanent",
        shutdown: Shutdown | None = None,
        name: Hashable | None = None,
        backoff: RestartBackoff | None = None,
        on_report: ReportHook | None = None,
    ) -> ChildSpec:
        """A nested ``DynamicSupervisor`` (starts empty; ``backoff``, ``on_report``: as in
        ``DynamicSupervisor.start``)."""
        from supervisors._dynamic import DynamicSupervisor

        async def start(node: Node, parent: ActorRef) -> ActorRef:
            return await DynamicSupervisor.start(
                node,
                max_children=max_children,
                max_restarts=max_restarts,
                max_seconds=max_seconds,
                name=name,
                link=parent,
                backoff=backoff,
                on_report=on_report,
            )

        return cls(id=id, start=start, restart=restart, shutdown=shutdown, type="supervisor")

    @classmethod
    def task(
        cls,
        id: Hashable,
        fn: Callable[..., Awaitable[Any]],
        *args: Any,
        restart: Restart = "temporary",
        shutdown: Shutdown | None = 5.0,
        name: Hashable | None = None,
    ) -> ChildSpec:
        """``fn(*args)`` run as a supervised child: returning exits ``normal``, raising
        crashes it; a shutdown cancels it."""
        from supervisors._children import TaskChild

        if not callable(fn):
            raise ConfigError("child.start", f"{fn!r} is not callable")

        async def start(node: Node, parent: ActorRef) -> ActorRef:
            return await node.spawn(TaskChild, fn, args, name=name, link=parent)

        return cls(id=id, start=start, restart=restart, shutdown=shutdown, type="worker")

    @classmethod
    def pykka(
        cls,
        id: Hashable,
        actor_class: _AnyClass,
        *args: Any,
        restart: Restart = "permanent",
        shutdown: Shutdown | None = None,
        name: Hashable | None = None,
        **kwargs: Any,
    ) -> ChildSpec:
        """A pykka ``ThreadingActor`` started with ``actor_class.start(*args, **kwargs)``;
        the child has started once its ``on_start`` has run (an exception there fails the
        start). Get its pykka ref with ``await supervisors.pykka_ref(child_ref)``."""
        from supervisors._children import PykkaChild

        async def start(node: Node, parent: ActorRef) -> ActorRef:
            return await node.spawn(PykkaChild, actor_class, args, kwargs, name=name, link=parent)

        return cls(id=id, start=start, restart=restart, shutdown=shutdown, type="worker")
