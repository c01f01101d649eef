"""What the dashboard reads off a running runtime beyond ``Telemetry``: its nodes, its
supervision tree, one agent's detail, the LLM providers, the agents table's filters, and
the two actions (passivate, restart).

``RuntimeViews`` is the endpoint's window on the runtime (``IntrospectionEndpoint(views=)``);
the endpoint works without one (a bare ``Telemetry``, as in the benchmarks), and then
answers those routes 404. Everything here reads, except ``passivate``/``restart``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from agentrt.actor import ActorError, ActorRef
from agentrt.agent import Services
from agentrt.llm._accounting import ModelStats
from agentrt.memory import Conversation
from agentrt.runtime._directory import LocalDirectory, NodeInfo
from agentrt.telemetry import Telemetry
from supervisors import ChildInfo, Supervisor

if TYPE_CHECKING:
    from agentrt.actor import Node

__all__ = ["AGENT_STATES", "RuntimeViews"]

#: Values of the agents table's ``state`` filter.
AGENT_STATES = ("live", "passivated", "down")
#: Agents of the agents' supervisor shown in the tree (the rest: the agents page).
_TREE_AGENTS = 50
_SUP_TIMEOUT = 5.0


class RuntimeViews:
    """The runtime's views for the dashboard (see the module docs)."""

    def __init__(
        self,
        *,
        node: Node,
        directory: LocalDirectory,
        services: Services,
        telemetry: Telemetry,
        root_name: Hashable,
        agents_name: Hashable,
        passivate: Callable[[str], Awaitable[bool]],
        restart: Callable[[str], Awaitable[bool]],
    ) -> None:
        self.node = node
        self.directory = directory
        self.services = services
        self.telemetry = telemetry
        self.root_name = root_name
        self.agents_name = agents_name
        self._passivate = passivate
        self._restart = restart

    # -- nodes -------------------------------------------------------------------------------

    def nodes(self) -> list[dict[str, Any]]:
        """One row per node the directory knows (``NodeInfo`` as dicts)."""
        return [_node_row(n) for n in self.directory.nodes()]

    # -- agents --------------------------------------------------------------------------------

    def where(self, q: str | None, state: str | None) -> Callable[[str], bool] | None:
        """A filter over agent ids for the agents table: ``q`` matches the id or the
        agent's class (a substring, case-insensitive; ``*``/``?`` make it a glob),
        ``state`` one of ``AGENT_STATES``. None when both are empty."""
        if not q and not state:
            return None
        slots = self.directory.slots()
        needle = (q or "").lower()
        glob = any(c in needle for c in "*?[")

        def matches_text(agent_id: str) -> bool:
            slot = slots.get(agent_id)
            name = slot.agent_class.__qualname__.lower() if slot is not None else ""
            text = agent_id.lower()
            if glob:
                return fnmatch.fnmatchcase(text, needle) or fnmatch.fnmatchcase(name, needle)
            return needle in text or needle in name

        def matches_state(agent_id: str) -> bool:
            slot = slots.get(agent_id)
            if slot is None:
                return False
            ref = slot.ref
            if slot.passive:
                return state == "passivated"
            alive = ref is not None and ref.alive
            return state == ("live" if alive else "down")

        if needle and state:
            return lambda i: matches_state(i) and matches_text(i)
        return matches_text if needle else matches_state

    def agent_detail(self, agent_id: str) -> dict[str, Any]:
        """Beyond ``Telemetry.agent``: its recent turns with their steps, the conversation
        by tier (a live agent's; None otherwise) and its supervisor path."""
        slot = self.directory.slot(agent_id)
        return {
            "recent_turns": self.telemetry.turn_log.recent(agent_id),
            "conversation": self._conversation(agent_id),
            "supervisor_path": [_name(self.root_name), _name(self.agents_name), agent_id]
            if slot is not None
            else [],
        }

    def _conversation(self, agent_id: str) -> dict[str, Any] | None:
        found = self.telemetry._agents.get(agent_id)  # read only: a parked record has none
        conversation = getattr(found, "memory_source", None)
        if not isinstance(conversation, Conversation):
            return None
        s = conversation.stats()
        return {
            "recent": {
                "messages": s.recent_messages,
                "tokens": s.window_tokens,
                "bytes": s.window_bytes,
            },
            "chunks": {
                "count": s.chunks,
                "resident": s.resident_chunks,
                "raw_bytes": s.raw_bytes,
                "stored_bytes": s.stored_bytes,
                "memory_bytes": s.chunk_memory_bytes,
                "ratio": s.ratio,
            },
            "summary": {
                "bytes": s.summary_bytes,
                "messages": s.summary_messages,
                "coverage": s.summary_coverage,
                "calls": s.summary_calls,
                "failures": s.summary_failures,
            },
            "messages": s.messages,
            "memory_bytes": s.memory_bytes,
            "pending_writes": s.pending_writes,
        }

    async def passivate(self, agent_id: str) -> bool:
        """Save and stop the agent now (False: busy, or not running)."""
        return await self._passivate(agent_id)

    async def restart(self, agent_id: str) -> bool:
        """Kill the agent's actor; its supervisor restarts it from its stored
        conversation (False: not running)."""
        return await self._restart(agent_id)

    # -- supervision tree --------------------------------------------------------------------

    async def tree(self) -> dict[str, Any]:
        """The runtime's supervision tree: each supervisor with its stats (restarts,
        restarts in the intensity window against ``max_restarts``) and children; the
        agents' supervisor lists its first 50 agents and how many it has."""
        root = self.node.whereis(self.root_name)
        if root is None:
            return {"name": _name(self.root_name), "running": False, "children": []}
        return await self._supervisor(root, _name(self.root_name), dynamic=False)

    async def _supervisor(self, ref: ActorRef, name: str, *, dynamic: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"name": name, "kind": "supervisor", "running": True}
        try:
            stats = await Supervisor.stats(ref, timeout=_SUP_TIMEOUT)
        except (ActorError, TimeoutError) as exc:
            out.update(running=False, error=type(exc).__name__, children=[])
            return out
        out.update(asdict(stats))
        out["child_count"] = out.pop("children")  # "children": the rows below
        out["intensity_use"] = (
            round(stats.recent_restarts / stats.max_restarts, 4) if stats.max_restarts else 0.0
        )
        if dynamic:
            out["children"] = self._agent_children()
            return out
        try:
            children: Sequence[ChildInfo] = await Supervisor.which_children(ref)
        except (ActorError, TimeoutError):
            children = ()
        rows = []
        for child in reversed(children):  # start order
            child_ref = child.ref
            if child.type == "supervisor" and child_ref is not None:
                is_agents = self.node.whereis(self.agents_name) == child_ref
                rows.append(await self._supervisor(child_ref, _name(child.id), dynamic=is_agents))
            else:
                rows.append(
                    {
                        "name": _name(child.id),
                        "kind": child.type,
                        "restart": child.restart,
                        "running": child_ref is not None and child_ref.alive,
                    }
                )
        out["children"] = rows
        return out

    def _agent_children(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for agent_id, slot in self.directory.slots().items():
            if len(rows) >= _TREE_AGENTS:
                break
            ref = slot.ref
            if ref is None or slot.passive:
                continue
            rows.append(
                {
                    "name": agent_id,
                    "kind": "agent",
                    "running": ref.alive,
                    "restarts": slot.restarts,
                }
            )
        return rows

    # -- LLM ---------------------------------------------------------------------------------

    def llm(self) -> dict[str, Any]:
        """Per provider: requests, errors by class, retries, rate-limit waits, tokens,
        cost, queue, latency; per model (those configured, and those requested or seen
        by its breakers): its requests, answers, errors by class, rate-limit waits and
        seconds (the buckets' and the server's pauses), tokens and cost (zeros for a
        model not used yet), its breakers' state per replica and endpoint kind, and the
        worst of them (``"none"``: no breaker yet, e.g. the in-process mock).
        ``{"providers": []}`` without an LLM pool."""
        if "llm" not in self.services:
            return {"providers": [], "response_cache": None}
        pool = self.services.llm
        stats = pool.stats()
        configs = {c.name: c for c in pool.config.providers}
        rows = []
        for name, p in stats.get("providers", {}).items():
            models: dict[str, dict[str, Any]] = {}
            config = configs.get(name)
            used = p.get("models") or {}
            if config is not None:  # the models it is configured for, used or not
                for model in (*config.models, config.default_model):
                    if model:
                        _model_entry(models, used, model)
            for model in used:
                _model_entry(models, used, model)
            for replica, r in (p.get("backend", {}).get("replicas") or {}).items():
                for key, breaker in (r.get("breakers") or {}).items():
                    kind, _, model = key.partition(":")
                    entry = _model_entry(models, used, model)
                    entry["breakers"].append({"replica": replica, "kind": kind, **breaker})
            for entry in models.values():
                states = {b["state"] for b in entry["breakers"]}
                entry["breaker"] = (
                    "open" if "open" in states else "half_open" if "half_open" in states
                    else "closed" if states else "none"
                )  # fmt: skip
            rate = p.get("rate_limit", {})
            rows.append(
                {
                    "provider": name,
                    "kind": config.kind if config is not None else None,
                    "requests": p.get("requests", 0),
                    "succeeded": p.get("succeeded", 0),
                    "errors": p.get("errors", {}),
                    "retries": p.get("retries", 0),
                    "failovers": p.get("failovers", 0),
                    "input_tokens": p.get("input_tokens", 0),
                    "output_tokens": p.get("output_tokens", 0),
                    "cost": p.get("cost", 0.0),
                    "latency": p.get("latency", {}),
                    "queue": p.get("queue", {}),
                    "queue_wait": p.get("queue_wait", {}),
                    "rate_limit_waits": rate.get("waits", 0),
                    "rate_limit_wait_s": rate.get("wait_s", 0.0),
                    "models": sorted(models.values(), key=lambda m: str(m["model"])),
                }
            )
        return {"providers": rows, "response_cache": stats.get("response_cache")}


def _model_entry(
    models: dict[str, dict[str, Any]], used: dict[str, Any], model: str
) -> dict[str, Any]:
    """``model``'s row of the LLM view, made on first use from its counters (zeros
    before its first request)."""
    entry = models.get(model)
    if entry is None:
        counters = used.get(model) or ModelStats().view()
        entry = models[model] = {"model": model, **counters, "breakers": []}
    return entry


def _name(name: Hashable) -> str:
    if isinstance(name, tuple):
        return "/".join(str(part) for part in name)
    return str(name)


def _node_row(node: NodeInfo) -> dict[str, Any]:
    return {
        "node_id": node.node_id,
        "epoch": node.epoch,
        "address": node.address,
        "status": node.status,
        "last_seen": node.last_seen,
        "load": dict(node.load),
    }
