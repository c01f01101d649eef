"""Introspection benchmark: what a polling ``agentrt top`` costs the node it watches.

Every ``/agents`` request is computed on the node's event loop, so its cost is loop time
taken from the agents. Two parts, in one run (the machine is shared: read the ratios):

- ``select``: ``Telemetry.top(50, by)`` (a heap selection that builds only the 50 views
  it returns) against its peer, the obvious way it replaced (build every agent's view,
  sort them all, keep 50), over ``agents`` agents with varied stats; rounds alternate.
  Both must return the same agents (``same_order``).
- ``http``: ``GET /agents?by=p95&limit=50`` and ``GET /summary`` through a real
  ``IntrospectionEndpoint`` on loopback with an httpx client in the same loop (so the
  figure is the loop time one refresh of ``agentrt top`` costs, client included).

    python -m loadtest.bench.endpoint            # table
    python -m loadtest.bench.endpoint --json     # one JSON object
    python -m loadtest.bench.endpoint --quick --json
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from agentrt.runtime import EndpointConfig, IntrospectionEndpoint
from agentrt.telemetry import TOP_KEYS, Telemetry
from loadtest.bench.measure import bench_parser, emit, summarize


def populated(n: int, seed: int = 1) -> Telemetry:
    """A ``Telemetry`` holding ``n`` agents with varied turns, latencies, tokens, costs."""
    rng = random.Random(seed)
    telemetry = Telemetry()
    mailbox = {}
    for i in range(n):
        agent_id = f"agent-{i}"
        stats = telemetry.agent_stats(agent_id, "Bench")
        for _ in range(rng.randint(1, 8)):
            telemetry.record_turn(stats, rng.lognormvariate(-2.5, 0.8), rng.random() > 0.01)
        stats.tokens_in, stats.tokens_out = rng.randint(50, 5000), rng.randint(10, 900)
        stats.cost = stats.tokens_out * 2e-6
        stats.bytes_held = rng.randint(1_000, 60_000)
        mailbox[agent_id] = rng.randint(0, 3)

    def live(agent_id: str) -> dict[str, Any]:  # what the runtime's live view returns
        return {"state": "idle", "mailbox": mailbox[agent_id], "mailbox_max": 4, "restarts": 0}

    telemetry.live_agent = live
    return telemetry


def sort_all(telemetry: Telemetry, n: int, by: str) -> list[dict[str, Any]]:
    """The peer: every view built, all sorted, ``n`` kept."""
    key = TOP_KEYS[by]
    views = telemetry.agents()
    views.sort(key=lambda v: v.get(key) or 0, reverse=True)
    return views[:n]


def bench_select(telemetry: Telemetry, rounds: int, by: str) -> dict[str, Any]:
    ours: list[float] = []
    peer: list[float] = []
    same = True
    for _ in range(rounds):
        started = time.perf_counter()
        mine = telemetry.top(50, by=by)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        theirs = sort_all(telemetry, 50, by)
        peer.append(time.perf_counter() - started)
        same = same and [v[TOP_KEYS[by]] for v in mine] == [v[TOP_KEYS[by]] for v in theirs]
    select, full = summarize(ours, "ms")["p50_ms"], summarize(peer, "ms")["p50_ms"]
    return {"select_p50_ms": select, "sort_all_p50_ms": full, "same_order": same}


async def bench_http(telemetry: Telemetry, requests: int) -> dict[str, float]:
    endpoint = IntrospectionEndpoint(telemetry, EndpointConfig())
    await endpoint.start()
    timings: dict[str, list[float]] = {"agents": [], "summary": []}
    try:
        async with httpx.AsyncClient(base_url=endpoint.url, trust_env=False) as client:
            for _ in range(requests):
                for name, path in (("agents", "/agents?by=p95&limit=50"), ("summary", "/summary")):
                    started = time.perf_counter()
                    response = await client.get(path)
                    timings[name].append(time.perf_counter() - started)
                    response.raise_for_status()
    finally:
        await endpoint.aclose()
    return {f"http_{k}_p50_ms": summarize(v, "ms")["p50_ms"] for k, v in timings.items()}


def main() -> None:
    args = bench_parser(__doc__.split("\n\n")[0] if __doc__ else "").parse_args()
    agents, rounds, requests = (10_000, 5, 20) if args.quick else (100_000, 15, 60)
    telemetry = populated(agents)
    p95 = bench_select(telemetry, rounds, "p95")
    mailbox = bench_select(telemetry, rounds, "mailbox")
    http = asyncio.run(bench_http(telemetry, requests))
    result = {
        "agents": agents,
        "top_p95_select_p50_ms": p95["select_p50_ms"],
        "top_p95_sort_all_p50_ms": p95["sort_all_p50_ms"],
        "top_p95_speedup": round(p95["sort_all_p50_ms"] / max(p95["select_p50_ms"], 1e-9), 2),
        "top_mailbox_select_p50_ms": mailbox["select_p50_ms"],
        "top_mailbox_sort_all_p50_ms": mailbox["sort_all_p50_ms"],
        "same_order": p95["same_order"] and mailbox["same_order"],
        **http,
    }
    rows = [
        ("top(50, p95): select / sort all", p95["select_p50_ms"], p95["sort_all_p50_ms"]),
        ("top(50, mailbox): select / sort all",
         mailbox["select_p50_ms"], mailbox["sort_all_p50_ms"]),
        ("GET /agents?limit=50 / GET /summary",
         http["http_agents_p50_ms"], http["http_summary_p50_ms"]),
    ]  # fmt: skip
    emit(
        result,
        as_json=args.json,
        title=f"introspection at {agents:,} agents (p50, ms)",
        rows=rows,
        columns=("figure", "ours", "peer / other"),
    )


if __name__ == "__main__":
    main()
