"""THE goal of cluster-wide limits: 3 node processes, each its own ``LLMPool`` sharing an
rpm limit through Redis, drive more load than the limit against ONE mock LLM server that
counts the requests it receives; the server sees at most 1.05x the limit over the run.

The verdict does not depend on machine speed: the count is bounded by the tokens the
Redis bucket hands out (``rate x window + burst + leases``), and the window is measured
from the first node's first acquire to the last node's last answer, so a slow machine
gets a longer window *and* a proportionally larger allowance."""

from __future__ import annotations

import math

from agentrt.llm import MockLLMServer
from loadtest.bench.shared_limits import node_reports, run_nodes, run_window

RPM = 6_000  # 100 requests/s: a 4 s run is ~400 requests
NODES = 3


async def test_three_nodes_stay_within_the_shared_limit(
    server: MockLLMServer, redis_url: str, redis_prefix: str
):
    spec = {
        "llm_url": server.url,
        "redis_url": redis_url,
        "prefix": redis_prefix,
        "rpm": RPM,
        "nodes": NODES,
        "burst_s": 0.1,
        "lease_s": 0.05,
        "seconds": 4.0,
        "concurrency": 16,
    }
    async with run_nodes(spec, NODES) as procs:
        reports = await node_reports(procs, timeout=90)
    seen = server.state.counts["http"]
    window = run_window(reports)
    rate = RPM / 60
    assert 0 < sum(r["answered"] for r in reports) <= seen  # (some cut by the run's end)
    assert all(r["answered"] > 0 for r in reports)  # every node took part
    # more load than the limit: the shared bucket made the nodes wait
    assert sum(r["limiter"]["waits"] for r in reports) > 0
    # the documented bound: burst + leases outstanding + one unit per node for rounding
    lease = max(1, math.floor(rate * spec["lease_s"] / NODES))
    assert seen <= rate * window + rate * spec["burst_s"] + NODES * (lease + 1)
    assert seen <= 1.05 * rate * window, (seen, window)
