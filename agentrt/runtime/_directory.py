"""The agent directory: where agent X lives, and how to reach it.

Turn routing (``agentrt.runtime._turns``) asks a ``Directory`` for an agent's address and
never knows how the answer was found. Two implementations are planned:

- ``LocalDirectory`` (this module): one node. A small ``AgentSlot`` per agent, live or
  passivated (the registry of today); resolving a passivated agent, or one whose last
  incarnation crashed and was not restarted within ``restart_grace_s``, starts it here
  (one activation per agent at a time, however many callers race). Resolving an id it
  does not know but one of its ``Routes`` matches (``agentrt.runtime._routes``) makes the
  agent's slot (passivated, of the route's class) and activates it by the same path: so
  its conversation is loaded from the store when it has one, and 100 callers racing for
  a new id start exactly one agent. An id matching no route raises ``UnknownAgent``.
- a cluster directory (later, on Redis): the same methods, where ``register`` claims ids
  in a shared table and ``resolve`` answers the owner's address, activating the agent on
  a node of its choice (Orleans' grain directory, Akka's shard region).

The address is an ``ActorRef`` today; a remote address will be a ref whose node is not
this one, so callers only ``call``/``cast`` it.

Example::

    directory = LocalDirectory(activate=start_agent, restart_grace_s=2.0)
    await directory.register(["a-1"], Helper, {}, passive=True)   # known, not started
    ref = await directory.resolve("a-1")                           # started now
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agentrt.actor import ActorRef
from agentrt.agent import AgentExists, UnknownAgent
from agentrt.agent._context import AgentSlot
from agentrt.agent._validate import check_agent_id
from agentrt.runtime._routes import Routes

__all__ = ["Directory", "DirectoryCounts", "LocalDirectory", "NodeInfo"]

#: Starts agent ``id`` of its slot on this node and returns its ref.
Activate = Callable[[str, AgentSlot], Awaitable[ActorRef]]


class _Relocated(Exception):
    """Agent ``agent_id`` left this node (moved, or its incarnation's claim is gone) while
    a turn was being delivered to it here: the turn router delivers it again through the
    cluster (to its new owner). Never seen outside the runtime."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"agent {agent_id!r} left this node: deliver again")
        self.agent_id = agent_id


@dataclass(frozen=True, kw_only=True, slots=True)
class DirectoryCounts:
    """Agents the directory knows: ``total`` (live or not), ``live``, ``passivated`` and
    ``restarts`` (incarnations started after a crash, summed)."""

    total: int
    live: int
    passivated: int
    restarts: int


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeInfo:
    """One node as the directory sees it."""

    node_id: str
    epoch: int
    address: str
    status: str  # "alive" | "draining" | "dead" | "stale"
    last_seen: float  # wall-clock seconds of its last renewal
    load: Mapping[str, float]


class Directory(Protocol):
    """Where agents live (see the module docs). Every method that may need I/O in a
    cluster is async; the others answer from what this node knows."""

    async def register(
        self,
        ids: Sequence[str],
        agent_class: type[Any],
        options: Mapping[str, Any],
        *,
        passive: bool,
    ) -> list[AgentSlot]:
        """Claim every id of ``ids`` for ``agent_class`` (all or none: ``AgentExists``
        names the first taken). ``passive``: known but not started (activated by its
        first message)."""
        ...

    async def unregister(self, ids: Sequence[str]) -> None:
        """Forget ``ids`` whose agent never started (a failed spawn); live ones stay."""
        ...

    async def resolve(self, agent_id: str) -> ActorRef:
        """The address of ``agent_id``, activated if needed: a known agent, or one a route
        names (``UnknownAgent``, an ``AgentNotFound``, when none does)."""
        ...

    def check(self, agent_id: str) -> None:
        """Raise ``UnknownAgent`` unless ``agent_id`` is known or a route matches it."""
        ...

    def local(self, agent_id: str) -> ActorRef | None:
        """The live incarnation of ``agent_id`` on this node, or None; never activates."""
        ...

    def slot(self, agent_id: str) -> AgentSlot | None:
        """This node's record of ``agent_id``, or None."""
        ...

    def __contains__(self, agent_id: object) -> bool: ...

    def ids(self) -> Iterator[str]:
        """Every agent id this node knows, live or passivated."""
        ...

    def counts(self) -> DirectoryCounts:
        """Totals over this node's agents (one pass)."""
        ...

    def nodes(self) -> Sequence[NodeInfo]:
        """Every node the directory knows, this one included (a cluster directory marks
        a node whose lease was not renewed in time ``"stale"``)."""
        ...


class LocalDirectory:
    """The one-node ``Directory``: a slot per agent, activations started by ``activate``.

    Also the agents' own ``SlotBook`` (``AgentContext.directory``): an agent binds its
    slot when it is ready.
    """

    __slots__ = (
        "_activate",
        "_activations",
        "_grace",
        "_load",
        "_routes",
        "_slots",
        "address",
        "epoch",
        "node_id",
    )

    def __init__(
        self,
        *,
        activate: Activate,
        restart_grace_s: float,
        routes: Routes | None = None,
        node_id: str = "local",
        address: str = "",
        load: Callable[[], Mapping[str, float]] | None = None,
    ) -> None:
        """``node_id``/``address``: how ``nodes()`` names this node (the address is ''
        when it has none to give, e.g. no introspection endpoint); ``load``: the figures
        of its row (default: the agent counts)."""
        self.node_id = node_id
        self.address = address
        #: when this directory started (seconds since the epoch): a node's incarnation
        self.epoch = int(time.time())
        self._load = load
        self._activate = activate
        self._grace = restart_grace_s
        self._routes = routes if routes is not None else Routes()
        self._slots: dict[str, AgentSlot] = {}
        self._activations: dict[str, asyncio.Future[ActorRef]] = {}

    # -- registration ------------------------------------------------------------------------

    async def register(
        self,
        ids: Sequence[str],
        agent_class: type[Any],
        options: Mapping[str, Any],
        *,
        passive: bool,
    ) -> list[AgentSlot]:
        slots = self._slots
        taken = next((i for i in ids if i in slots), None)
        if taken is not None:
            raise AgentExists(taken)
        made = []
        for agent_id in ids:
            slot = slots[agent_id] = AgentSlot(agent_class, options)
            slot.passive = passive
            made.append(slot)
        return made

    async def unregister(self, ids: Sequence[str]) -> None:
        for agent_id in ids:
            slot = self._slots.get(agent_id)
            if slot is not None and slot.ref is None:
                del self._slots[agent_id]

    def slot_for(self, agent_id: str, agent_class: type[Any], options: Any) -> AgentSlot:
        """The slot an agent binds to; created for an agent started outside ``register``
        (a custom supervision tree)."""
        slot = self._slots.get(agent_id)
        if slot is None:
            slot = self._slots[agent_id] = AgentSlot(agent_class, options)
        return slot

    # -- lookups -------------------------------------------------------------------------------

    def slot(self, agent_id: str) -> AgentSlot | None:
        return self._slots.get(agent_id)

    def slots(self) -> Mapping[str, AgentSlot]:
        """Every slot, by id (read-only view, for the passivator's sweeps)."""
        return self._slots

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    def ids(self) -> Iterator[str]:
        return iter(self._slots)

    def local(self, agent_id: str) -> ActorRef | None:
        slot = self._slots.get(agent_id)
        ref = slot.ref if slot is not None else None
        return ref if ref is not None and ref.alive else None

    def counts(self) -> DirectoryCounts:
        live = passive = restarts = 0
        for slot in self._slots.values():
            ref = slot.ref
            if slot.passive:
                passive += 1
            elif ref is not None and ref.alive:
                live += 1
            restarts += slot.restarts
        return DirectoryCounts(
            total=len(self._slots), live=live, passivated=passive, restarts=restarts
        )

    def nodes(self) -> Sequence[NodeInfo]:
        """One row: this node, ``"alive"``, seen now; its ``load`` from the ``load``
        callable, else the agent counts (total, live, passivated, restarts)."""
        if self._load is not None:
            load = dict(self._load())
        else:
            counts = self.counts()
            load = {
                "agents": float(counts.total),
                "live": float(counts.live),
                "passivated": float(counts.passivated),
                "restarts": float(counts.restarts),
            }
        return [
            NodeInfo(
                node_id=self.node_id,
                epoch=self.epoch,
                address=self.address,
                status="alive",
                last_seen=time.time(),
                load=load,
            )
        ]

    # -- resolution ----------------------------------------------------------------------------

    def check(self, agent_id: str) -> None:
        if agent_id not in self._slots and self._routes.match(agent_id) is None:
            raise UnknownAgent(agent_id, self._routes.describe())

    async def resolve(self, agent_id: str) -> ActorRef:
        slot = self._slots.get(agent_id)
        if slot is None:
            return await self._activate_routed(agent_id)
        ref = slot.ref
        if ref is not None and ref.alive:
            return ref
        # its last incarnation died: its supervisor is restarting it (or gave up)
        if not slot.passive and ref is not None and await self._wait_bind(slot, ref):
            rebound = slot.ref
            if rebound is not None and rebound.alive:
                return rebound
        return await self._activate_once(agent_id, slot)

    async def _wait_bind(self, slot: AgentSlot, old: ActorRef) -> bool:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if slot.waiters is None:
            slot.waiters = []
        slot.waiters.append(fut)
        try:
            async with asyncio.timeout(self._grace):
                await fut
        except TimeoutError:
            return False
        return slot.ref is not None and slot.ref != old

    async def _activate_routed(self, agent_id: str) -> ActorRef:
        """Make the slot of an id a route names and activate it (see the module docs).
        Nothing awaits between the lookup and the new slot, so racing callers find it and
        join its one activation. A failed activation forgets the slot again."""
        route = self._routes.match(agent_id)
        if route is None:
            raise UnknownAgent(agent_id, self._routes.describe())
        check_agent_id(agent_id)
        slot = self._slots[agent_id] = AgentSlot(route.agent_class, route.options)
        slot.passive = True
        try:
            return await self._activate_once(agent_id, slot)
        except BaseException:
            if slot.ref is None and self._slots.get(agent_id) is slot:
                del self._slots[agent_id]
            raise

    async def _activate_once(self, agent_id: str, slot: AgentSlot) -> ActorRef:
        pending = self._activations.get(agent_id)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[ActorRef] = asyncio.get_running_loop().create_future()
        self._activations[agent_id] = fut
        try:
            ref = await self._activate(agent_id, slot)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no warning when nobody else was waiting
            raise
        finally:
            del self._activations[agent_id]
        fut.set_result(ref)
        return ref
