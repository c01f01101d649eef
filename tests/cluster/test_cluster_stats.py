"""Cluster statistics with real node processes: two ``agentrt node`` processes and a
client node in the test's process (``placeable=False``, ``placement="hash"`` so that the
agents spread over both nodes), all publishing every 200 ms.

- turns on both nodes: ``rt.telemetry.cluster()``'s totals are the sum of the nodes';
- a damaged record in Redis is skipped, with the ``stats_damaged`` event naming its node;
- a paused node (SIGSTOP) is shown stale, with its age, not dropped;
- ``agentrt top --cluster --once`` lists both nodes and marks the paused one;
- the endpoint's ``/nodes`` carries the merged view.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from support.clusternodes import NodeProcs

from agentrt import Runtime, RuntimeConfig
from agentrt.cluster import ClusterConfig
from agentrt.runtime._config import StoreConfig
from agentrt.telemetry import STATS_DAMAGED, ClusterView

NODES = ("n0", "n1")
AGENTS = 16
STATS_MS = 200


@pytest.fixture
def nodes(redis_url: str, redis_prefix: str) -> Iterator[NodeProcs]:
    with NodeProcs(redis_url, redis_prefix, latency_ms=20, stats_ms=STATS_MS) as procs:
        procs.start_all(NODES)
        yield procs


@pytest.fixture
async def caller(redis_url: str, redis_prefix: str, nodes: NodeProcs) -> AsyncIterator[Runtime]:
    cluster = ClusterConfig(
        name="t", redis_url=redis_url, prefix=redis_prefix + "cl:", node_id="caller",
        ttl_ms=2_000, renew_ms=200, placeable=False, placement="hash", stats_ms=STATS_MS,
    )  # fmt: skip
    store = StoreConfig(kind="redis", url=redis_url, prefix=redis_prefix + "mem:")
    async with Runtime(RuntimeConfig(store=store), cluster=cluster) as rt:
        await rt.directory.cluster.membership.wait_for(len(NODES) + 1, timeout=20)  # type: ignore[attr-defined]
        yield rt


async def _view_until(
    rt: Runtime, ok: Callable[[ClusterView], bool], timeout: float = 15.0
) -> ClusterView:
    """The cluster view once ``ok`` holds (``AssertionError`` with the last view after
    ``timeout``)."""
    until = time.monotonic() + timeout
    while True:
        view = await rt.telemetry.cluster()
        if ok(view):
            return view
        if time.monotonic() > until:
            raise AssertionError(f"the view never got there: {view.as_dict()}")
        await asyncio.sleep(0.1)


def _by_node(view: ClusterView) -> dict[str, Any]:
    return {n.node_id: n for n in view.nodes}


async def _top(redis_url: str, prefix: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentrt.cli", "top", "--cluster", "t", "--redis", redis_url,
        "--prefix", prefix + "cl:", "--once",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cluster_statistics_sum_the_nodes_and_mark_stale_ones(
    nodes: NodeProcs, caller: Runtime, redis_url: str, redis_prefix: str
) -> None:
    asks = [caller.ask(f"k-{i}", f"hello {i}", timeout=20) for i in range(AGENTS)]
    replies = await asyncio.gather(*asks)
    assert len(replies) == AGENTS

    # every turn ran on n0 or n1 (the caller hosts none); once both published after them
    # the totals are the sum of the nodes, and that sum is every turn asked
    view = await _view_until(
        caller, lambda v: v.totals.turns == AGENTS and len(v.nodes) == 3 and not v.totals.stale
    )
    per = _by_node(view)
    assert set(per) == {"n0", "n1", "caller"}
    assert per["n0"].turns > 0
    assert per["n1"].turns > 0
    assert per["caller"].turns == 0
    assert per["n0"].turns + per["n1"].turns == view.totals.turns == AGENTS
    assert view.totals.turn_latency.count == AGENTS  # the histograms merged, not averaged
    assert view.totals.agents_live == per["n0"].agents_live + per["n1"].agents_live >= AGENTS
    assert view.totals.nodes == 3
    assert view.clustered is True
    assert per["n0"].load["placeable"] == 1.0
    assert per["caller"].load["placeable"] == 0.0

    # a damaged record: skipped, the event names its node, the others are still read
    seen: list[dict[str, Any]] = []
    caller.telemetry.events.attach(
        "test-damaged", STATS_DAMAGED, lambda name, m, meta, state: seen.append(dict(meta))
    )
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = f"{redis_prefix}cl:t:"
        await client.set(f"{keys}stats:ghost|7", b"\xc1 not a record", px=60_000)
        await client.zadd(f"{keys}stats", {"ghost|7": time.time()})
        view = await caller.telemetry.cluster()
    finally:
        await client.aclose()
    assert view.damaged == ("ghost",)
    assert [m["node"] for m in seen] == ["ghost"]
    assert {"n0", "n1", "caller"} <= set(_by_node(view))
    assert "ghost" not in _by_node(view)

    # a paused node stops publishing: shown stale with its age, not dropped
    nodes.signal("n1", signal.SIGSTOP)
    view = await _view_until(caller, lambda v: _by_node(v)["n1"].stale)
    per = _by_node(view)
    assert per["n1"].age_s > 3 * STATS_MS / 1000
    assert not per["n0"].stale
    assert view.totals.stale == 1
    assert view.totals.turns == per["n0"].turns  # the totals: the fresh nodes
    assert [n.node_id for n in view.nodes][-1] == "n1"  # stale ones last

    code, out, err = await _top(redis_url, redis_prefix)
    assert code == 0, err
    assert "TOTAL" in out
    lines = {line.split()[1]: line for line in out.splitlines() if line.strip().startswith("│ n")}
    assert set(lines) >= {"n0", "n1"}, out
    assert "stale" in lines["n1"]
    assert "stale" not in lines["n0"]
    assert "damaged records skipped: ghost" in out
