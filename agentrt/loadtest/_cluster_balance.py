"""How evenly a ``[cluster]`` run's agents are spread, read from the nodes' published load.

:func:`read_balance` reads the members hash and the load hash of the run's cluster (the
records every node publishes each tick, :mod:`agentrt.cluster._node`) and answers the
figures ``rebalance_balance`` (the most agents a live node that hosts agents holds, over
their mean; None with fewer than two such nodes or no agents) and ``rebalance_rounds``
(the most rebalance rounds that moved agents any of them ran; a restarted node counts
from 0). A Redis failure answers both as None (the run's figures are still written).
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from agentrt.cluster._errors import ClusterUnavailable, CorruptMembers
from agentrt.cluster._node import _read_loads
from agentrt.cluster._scripts import ClusterKeys, ClusterScripts
from agentrt.cluster._wire import WireKeys
from agentrt.loadtest._cluster_spec import ClusterSpec

__all__ = ["balance_of", "read_balance"]


def balance_of(counts: list[float]) -> float | None:
    """The largest of ``counts`` over their mean (None: fewer than two, or all 0)."""
    if len(counts) < 2 or not sum(counts):
        return None
    return max(counts) / (sum(counts) / len(counts))


async def read_balance(url: str, spec: ClusterSpec) -> dict[str, float | None]:
    """``rebalance_balance`` and ``rebalance_rounds`` of the cluster ``spec`` names at
    ``url`` (module docs)."""
    prefix = f"{spec.prefix}{spec.name}:"
    client = aioredis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
    try:
        members = await ClusterScripts(client, ClusterKeys(prefix)).members()
        load_key = WireKeys(prefix).load
        loads = _read_loads(load_key, await client.hgetall(load_key))
    except (RedisError, OSError, ClusterUnavailable, CorruptMembers):
        return {"rebalance_balance": None, "rebalance_rounds": None}
    finally:
        await client.aclose()
    hosting = [
        loads[m.node_id]
        for m in members.alive()
        if m.node_id in loads and loads[m.node_id].get("placeable", 1.0)
    ]
    counts = [load.get("owned", load.get("agents", 0.0)) for load in hosting]
    rounds = max((load.get("rebalance_rounds", 0.0) for load in hosting), default=None)
    return {"rebalance_balance": balance_of(counts), "rebalance_rounds": rounds}
