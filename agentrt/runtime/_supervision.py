"""How the runtime supervises its agents: one incarnation per agent id, restart backoff,
and its supervisors' reports counted and forwarded to telemetry.

One incarnation per id. An agent's actor is registered as ``("agent", id)`` before its
``init`` runs, and the node releases that name in the same step that records the actor's
death, before its supervisor hears of it; so two live incarnations can never coexist.
What used to go wrong (issue 13: 2,939 restarts of one agent in 3 s, every one failing
with ``NameTaken``) was not the name outliving its actor: a restart that failed during a
store outage was queued for a retry; meanwhile a message for the agent waited
``restart_grace_s``, then the runtime reactivated the agent itself (``start_child``), and
every retry of the queued restart then found the name held by that healthy new
incarnation, failed at once, and was retried at once until the restart intensity took the
whole agents' tree down. :class:`AgentStart` closes that: a restart or activation of an id
whose actor is already running returns ``IGNORE`` (nothing started; the supervisor drops
the stale restart), and the caller that wanted the agent gets the running one.

The agents' ``DynamicSupervisor`` restarts with ``AgentsConfig.restart_backoff`` (a
``RestartBackoff``, beyond OTP) so a restart that cannot succeed waits rather than spins.
While an agent waits for its restart, a message for it waits up to ``restart_grace_s``
for the new incarnation, then the runtime activates the agent on demand (an error, such as
the store's, reaches the caller); nothing is dropped silently.

:class:`SupervisionMonitor` receives every ``SupervisorReport`` of the runtime's root and
agents' supervisors, emits it as the telemetry event ``("agentrt", "supervisor", kind)``
(measurements: none; metadata: supervisor, child_id, reason, tree) and counts it;
``shutdowns`` counts what a load run must never see: a supervisor that gave up
(``reached_max_restart_intensity``) or a child of the root (a service, or the agents'
supervisor itself) that went down.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from agentrt.actor import IGNORE, ActorError, ActorRef, InitError, NameTaken, Node
from agentrt.agent import TurnFailed
from supervisors import (
    ChildSpec,
    DynamicSupervisor,
    StartChildError,
    SupervisorError,
    SupervisorReport,
    SupervisorStats,
)

__all__ = [
    "AgentStart",
    "SupervisionMonitor",
    "SupervisionStats",
    "agent_name",
    "agent_ref",
    "agent_spec",
    "start_agent",
    "start_agents",
    "swarm_failure",
]

SUPERVISOR_EVENT = ("agentrt", "supervisor")


def agent_name(agent_id: str) -> tuple[str, str]:
    """The registry name of agent ``agent_id``'s live actor."""
    return ("agent", agent_id)


class AgentStart:
    """The start function of an agent child: spawns it registered under its id, unless
    an incarnation of that id already runs (then ``IGNORE``; see the module docs)."""

    __slots__ = ("agent_class", "args", "name")

    def __init__(self, agent_class: type[Any], agent_id: str, args: tuple[Any, ...]) -> None:
        """``init(agent_id, *args)``; ``args`` may be shared by a swarm's agents."""
        self.agent_class = agent_class
        self.args = args
        self.name = agent_name(agent_id)

    async def __call__(self, node: Node, parent: ActorRef) -> Any:
        name = self.name
        if node.whereis(name) is not None:
            return IGNORE
        return await node.spawn(self.agent_class, name[1], *self.args, name=name, link=parent)


def agent_ref(node: Node, agent_id: str, result: ActorRef | SupervisorError | None) -> ActorRef:
    """The live actor of agent ``agent_id`` after its start (``start_child``) gave
    ``result``; raises what the start raised (the agent's own error when its ``init``
    raised one). An incarnation that was already running (``NameTaken``, ``IGNORE``) is
    the answer."""
    if isinstance(result, StartChildError):
        reason = result.child_reason
        if isinstance(reason, NameTaken):  # already (re)started by someone else
            existing = node.whereis(agent_name(agent_id))
            if existing is not None:
                return existing
        if isinstance(reason, Exception):
            raise reason from result
        raise result
    if isinstance(result, SupervisorError):
        raise result
    if result is None:  # an incarnation already runs (see the module docs)
        result = node.whereis(agent_name(agent_id))
        if result is None:
            raise TurnFailed(agent_id, "the agent's init returned IGNORE")
    return result


async def start_agent(
    node: Node, sup: ActorRef, agent_id: str, spec: ChildSpec, *, adopt: bool
) -> ActorRef:
    """Start agent ``agent_id`` from ``spec`` under the agents' supervisor ``sup``.
    ``adopt``: in the caller's task, then ``sup`` adopts it (``adopt_child``), so a start
    never waits behind the supervisor's other work; else ``sup`` starts it
    (``start_child``: it counts, for ``max_agents``). Raises what the start raised."""
    if not adopt:
        try:
            result = await DynamicSupervisor.start_child(sup, spec)
        except StartChildError as exc:
            return agent_ref(node, agent_id, exc)
        return agent_ref(node, agent_id, result)
    try:
        ref = await spec.start(node, sup)
    except InitError as exc:
        return agent_ref(node, agent_id, StartChildError(agent_id, exc.reason))
    except NameTaken as exc:
        return agent_ref(node, agent_id, StartChildError(agent_id, exc))
    if ref is IGNORE:
        return agent_ref(node, agent_id, None)
    await DynamicSupervisor.adopt_child(sup, spec, ref)
    started: ActorRef = ref
    return started


async def start_agents(
    node: Node, sup: ActorRef, ids: Sequence[str], agent_class: type[Any], *args: Any
) -> list[tuple[str, Exception]]:
    """Start agents ``ids`` of ``agent_class`` (``init(id, *args)``) in one request to
    ``sup`` (``start_children``; their specs built in one ``ChildSpec.batch``); raises
    the first failure. A swarm awaits one batch at a time, so the turns already running
    go on between batches. Returns the agents that failed to start, ``(id, error)`` in
    order (the error ``spawn`` would have raised); the others are running."""
    starts = [(i, AgentStart(agent_class, i, args)) for i in ids]
    specs = ChildSpec.batch(starts, restart="transient")
    results = await DynamicSupervisor.start_children(sup, specs)
    failed: list[tuple[str, Exception]] = []
    for agent_id, result in zip(ids, results, strict=True):
        try:
            agent_ref(node, agent_id, result)
        except Exception as exc:
            failed.append((agent_id, exc))
    return failed


def swarm_failure(failed: Sequence[tuple[str, Exception]], started: int) -> Exception:
    """The error a swarm raises when agents of it failed to start: the first one's, with
    a note (PEP 678) naming every failed id and how many agents started."""
    error = failed[0][1]
    names = ", ".join(agent_id for agent_id, _ in failed[:20])
    more = f" and {len(failed) - 20} more" if len(failed) > 20 else ""
    error.add_note(
        f"spawn_swarm: {len(failed)} agents failed to start ({names}{more}); "
        f"{started} started and keep running; the others were not started"
    )
    return error


def agent_spec(agent_id: str, agent_class: type[Any], *args: Any) -> ChildSpec:
    """A transient child spec for agent ``agent_id`` (``init(agent_id, *args)``)."""
    start = AgentStart(agent_class, agent_id, args)
    return ChildSpec(id=agent_id, start=start, restart="transient")


@dataclass(frozen=True, kw_only=True, slots=True)
class SupervisionStats:
    """Reports of the runtime's supervisors since start, by kind (``reports``), and
    ``shutdowns``: supervisors that reached their restart intensity plus children of the
    root (services, the agents' supervisor) that went down."""

    reports: dict[str, int]
    shutdowns: int


class SupervisionMonitor:
    """Counts the runtime's supervisor reports and forwards them to telemetry (see the
    module docs). ``events`` is the runtime's ``telemetry.events``."""

    def __init__(self, node: Node, events: Any, agents_name: Hashable) -> None:
        self._node = node
        self._events = events
        self._agents_name = agents_name
        self._reports: Counter[str] = Counter()
        self._shutdowns = 0

    def on_root_report(self, report: SupervisorReport) -> None:
        """``on_report`` of the root supervisor: any child of it that exits is a service
        or the agents' tree going down."""
        if report.kind == "child_terminated":
            self._shutdowns += 1
        self._record(report, "root")

    def on_agents_report(self, report: SupervisorReport) -> None:
        """``on_report`` of the agents' supervisor."""
        self._record(report, "agents")

    def _record(self, report: SupervisorReport, tree: str) -> None:
        self._reports[report.kind] += 1
        if report.kind == "reached_max_restart_intensity":
            self._shutdowns += 1
        name = (*SUPERVISOR_EVENT, report.kind)
        if self._events.listening(name):
            meta = {
                "supervisor": report.supervisor,
                "child_id": report.child_id,
                "reason": report.reason,
                "tree": tree,
            }
            self._events.emit(name, {}, meta)

    def stats(self) -> SupervisionStats:
        """Reports so far (see ``SupervisionStats``)."""
        return SupervisionStats(reports=dict(self._reports), shutdowns=self._shutdowns)

    async def agents_stats(self, timeout: float = 5.0) -> SupervisorStats | None:
        """The agents' supervisor's own stats (restart attempts included); None when it is
        not running or does not answer within ``timeout``."""
        sup = self._node.whereis(self._agents_name)
        if sup is None:
            return None
        try:
            return await DynamicSupervisor.stats(sup, timeout=timeout)
        except (TimeoutError, ActorError):
            return None
