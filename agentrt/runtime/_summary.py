"""The runtime's views of itself: ``Runtime.stats()``, the node-wide summary extras of
``telemetry.summary()``, and one agent's live state for telemetry views.

Plain functions over the runtime's parts (node, directory, turn router, services): they
read, never change anything.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from agentrt.actor import Node
from agentrt.agent import Services
from agentrt.runtime._directory import LocalDirectory
from agentrt.runtime._turns import TurnRouter
from agentrt.telemetry import LogHistogram, NodeStats, Telemetry
from agentrt.telemetry._process import rss_bytes

if TYPE_CHECKING:
    from agentrt.cluster import ClusterNode

__all__ = ["live_agent", "node_load", "node_sample", "runtime_stats", "summary_extras"]


def live_agent(node: Node, directory: LocalDirectory, agent_id: str) -> dict[str, Any]:
    """Live state of one agent: state, restarts, mailbox depth and its maximum."""
    slot = directory.slot(agent_id)
    if slot is None:
        return {"state": "unknown"}
    out: dict[str, Any] = {"restarts": slot.restarts, "mailbox": 0, "mailbox_max": 0}
    ref = slot.ref
    if slot.passive or ref is None or not ref.alive:
        out["state"] = "passivated" if slot.passive else "down"
        return out
    info = node.info(ref)
    out.update(state=info.state, mailbox=info.mailbox_depth, mailbox_max=info.mailbox_max_depth)
    return out


def node_load(node: Node, directory: LocalDirectory) -> dict[str, float]:
    """This node's row of load in ``Directory.nodes()``: agents it knows, actors alive,
    the scheduler's run queue, the last loop lag (ms) and RSS (MiB). Each is O(1): the
    dashboard reads it every second, so no pass over the agents."""
    stats = node.stats()
    return {
        "agents": float(len(directory)),
        "actors": float(stats.actors),
        "run_queue": float(stats.run_queue),
        "loop_lag_ms": round(stats.loop.lag_last * 1000, 3),
        "rss_mib": round(rss_bytes() / 2**20, 1),
    }


def node_sample(
    node: Node,
    directory: LocalDirectory,
    services: Services,
    telemetry: Telemetry,
    cluster: ClusterNode | None = None,
) -> NodeStats:
    """This node's figures now, for the cluster statistics (``Telemetry.cluster()``, and
    what a cluster node publishes every ``stats_ms``): loop lag, agents live and
    passivated (one pass over the slots), turns and failed turns, the recent turn latency
    and the LLM queue wait histograms, and in a cluster its fence rejections, redeliveries
    and moves. ``turns_per_s`` is left 0: the reader of two samples derives it."""
    counts = directory.counts()
    pool = services.get("llm")
    stats = cluster.stats() if cluster is not None else None
    return NodeStats(
        node_id=directory.node_id,
        epoch=directory.epoch,
        at=time.time(),
        load=directory.nodes()[0].load if cluster is None else {},
        loop_lag_ms=round(node.stats().loop.lag_mean * 1000, 3),
        agents_live=counts.live,
        agents_passivated=counts.passivated,
        turns=telemetry.turns.count,
        errors=telemetry.turns_failed,
        fence_rejections=stats.fenced_out if stats is not None else 0,
        redeliveries=stats.forwarded if stats is not None else 0,
        moves=cluster.moves if cluster is not None else 0,
        turn_latency=telemetry.turns.recent,
        llm_queue_wait=pool.queue_wait() if pool is not None else LogHistogram(),
    )


def summary_extras(
    node: Node,
    directory: LocalDirectory,
    services: Services,
    supervision: dict[str, Any],
    shutdowns: int = 0,
) -> dict[str, Any]:
    """Node-wide figures read off the other layers, for ``telemetry.summary()``
    (``shutdowns``: supervisors of the runtime that gave up, ``SupervisionStats``)."""
    stats = node.stats()
    depth, depth_max = node.mailbox_totals()
    counts = asdict(directory.counts())
    out: dict[str, Any] = {
        "agents": counts,
        "loop_lag_ms": {
            "last": stats.loop.lag_last * 1000,
            "max": stats.loop.lag_max * 1000,
            "mean": stats.loop.lag_mean * 1000,
            "blocked_episodes": stats.loop.blocked_episodes,
        },
        "mailboxes": {"queued": depth, "max_depth": depth_max, "actors": stats.actors},
        "restarts": {
            "agents": counts["restarts"],
            "agents_supervisor": supervision.get("agents", {}).get("restarts", 0),
            "supervisor_shutdowns": shutdowns,
        },
    }
    if "llm" in services:
        llm = services.llm.stats()
        out["llm"] = _llm_summary(llm.get("providers", {}))
        cached = llm.get("response_cache") or {}
        out["llm_cache"] = {
            key: cached.get(key, 0)
            for key in ("hits", "misses", "hit_ratio", "tokens_saved", "cost_saved")
        }
    if "tools" in services:
        cache = services.tools.stats().get("cache") or {}
        out["cache"] = {
            "hits": cache.get("hits", 0),
            "misses": cache.get("misses", 0),
            "hit_ratio": cache.get("hit_ratio", 0.0),
        }
    return out


def _llm_summary(providers: dict[str, Any]) -> dict[str, Any]:
    return {
        "queue_active": sum(p["queue"]["active"] for p in providers.values()),
        "queue_waiting": sum(p["queue"]["waiting"] for p in providers.values()),
        "queue_limit": sum(p["queue"]["limit"] for p in providers.values()),
        "queue_wait_p95_ms": max(
            (p["queue_wait"]["p95_ms"] for p in providers.values()), default=0.0
        ),
        "requests": sum(p["requests"] for p in providers.values()),
        "cost": sum(p["cost"] for p in providers.values()),
    }


def runtime_stats(
    node: Node,
    directory: LocalDirectory,
    turns: TurnRouter,
    services: Services,
    telemetry: Telemetry,
) -> dict[str, Any]:
    """Agents (total, live, passivated), turns, restarts and the services' stats."""
    out: dict[str, Any] = {
        "agents": asdict(directory.counts()),
        "turns": turns.stats().as_dict(),
        "node": node.stats(),
        "corrupt_snapshots": telemetry.corrupt_snapshots,
    }
    for name in ("llm", "tools", "store"):
        svc = services.get(name)
        if svc is not None:
            out[name] = svc.stats()
    return out
