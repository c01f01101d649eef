"""Cluster statistics benchmark: what publishing a node's statistics costs its tick, each
figure against its peer in the same run (the machine is shared: read the ratios).

One cluster node (this process; the local Redis) holding agents that have run turns (so
its histograms are filled like a working node's):

- ``record``: CPU µs to build and encode one record (``StatsPublisher.record``: the
  runtime's sample, a pass over the agent slots, two histograms copied and encoded) and
  its size in bytes;
- ``tick``: a node tick that publishes (the record queued on the tick's one pipeline)
  against a tick that does not (the other ticks between two publishes), rounds
  alternating: wall µs p50 of each, the ratio, and the CPU µs each costs;
- ``read``: ``rt.telemetry.cluster()`` with 10 node records in Redis (two round trips,
  decode and merge): wall µs p50.

    python -m loadtest.bench.cluster_stats            # table
    python -m loadtest.bench.cluster_stats --quick --json
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis

from agentrt import Agent, Runtime, RuntimeConfig
from agentrt.cluster import ClusterConfig
from agentrt.cluster._stats import decode_stats, encode_stats
from agentrt.runtime._config import StoreConfig
from loadtest.bench.measure import bench_parser, emit, local_redis, summarize


def _runtime(url: str, prefix: str) -> Runtime:
    cluster = ClusterConfig(  # a slow tick of its own: the benchmark calls tick() itself
        name="s", redis_url=url, prefix=prefix + "cl:", node_id="s0", ttl_ms=600_000,
        renew_ms=60_000, stats_ms=2_000, stats_ttl_ms=600_000,
    )  # fmt: skip
    store = StoreConfig(kind="redis", url=url, prefix=prefix + "mem:")
    rt = Runtime(RuntimeConfig(store=store), cluster=cluster)
    rt.route("s-", Agent)
    return rt


async def bench(url: str, quick: bool) -> dict[str, Any]:
    prefix = f"agentrt-bench:{uuid.uuid4().hex[:12]}:"
    agents, turns, rounds = (200, 200, 50) if quick else (2_000, 2_000, 500)
    result: dict[str, Any] = {}
    try:
        async with _runtime(url, prefix) as rt:
            node = rt.directory.cluster  # type: ignore[attr-defined]
            await rt.spawn_swarm(Agent, agents, prefix="s-", lazy=True)
            for i in range(0, turns, 50):
                await asyncio.gather(*(rt.ask(f"s-{j % agents}", "hi") for j in range(i, i + 50)))
            pub = node.publisher
            epoch, load = node.epoch, {"agents": float(agents), "placeable": 1.0}
            cpu = time.process_time()
            for _ in range(rounds):
                body = pub.record(epoch, load, time.time())
            result["record"] = {
                "cpu_us": round((time.process_time() - cpu) / rounds * 1e6, 1),
                "bytes": len(body),
                "turns_in_histogram": decode_stats(body).turn_latency.count,
                "agents": agents,
                "turns": turns,
            }
            samples: dict[str, list[float]] = {"publish": [], "plain": []}
            cpu_of = {"publish": 0.0, "plain": 0.0}
            for _ in range(rounds):
                for side in ("publish", "plain"):
                    pub._due = 0.0 if side == "publish" else time.monotonic() + 3600
                    cpu, wall = time.process_time(), time.perf_counter()
                    await node.tick()
                    samples[side].append(time.perf_counter() - wall)
                    cpu_of[side] += time.process_time() - cpu
            pub_s, plain_s = summarize(samples["publish"]), summarize(samples["plain"])
            result["tick"] = {
                "publish": {**pub_s, "cpu_us": round(cpu_of["publish"] / rounds * 1e6, 1)},
                "plain": {**plain_s, "cpu_us": round(cpu_of["plain"] / rounds * 1e6, 1)},
                "p50_ratio": round(pub_s["p50_us"] / max(plain_s["p50_us"], 1e-9), 3),
                "round_trips": 1,  # both: the tick's one pipeline (no dead inbox to drain)
            }
            client = aioredis.Redis.from_url(url)
            try:  # nine more nodes' records, copies of this one under other names
                keys = pub.keys
                raw = await client.get(keys.record(f"s0|{epoch}"))
                for i in range(1, 10):
                    await client.set(keys.record(f"s{i}|{epoch}"), _renamed(raw, i), px=600_000)
                    await client.zadd(keys.index, {f"s{i}|{epoch}": time.time()})
            finally:
                await client.aclose()
            reads = []
            for _ in range(rounds):
                wall = time.perf_counter()
                view = await rt.telemetry.cluster()
                reads.append(time.perf_counter() - wall)
            if len(view.nodes) != 10 or view.damaged:
                raise RuntimeError(f"the view should hold 10 nodes: {view.as_dict()}")
            result["read"] = {"nodes": len(view.nodes), **summarize(reads)}
        return result
    finally:
        client = aioredis.Redis.from_url(url)
        found = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
        for i in range(0, len(found), 500):
            await client.delete(*found[i : i + 500])
        await client.aclose()


def _renamed(raw: bytes, i: int) -> bytes:
    return encode_stats(replace(decode_stats(raw), node_id=f"s{i}"))


async def run(quick: bool) -> dict[str, Any]:
    async with local_redis() as url:
        return await bench(url, quick)


def main() -> None:
    args = bench_parser(__doc__.split("\n\n")[0] if __doc__ else "").parse_args()
    result = asyncio.run(run(args.quick))
    r, t, rd = result["record"], result["tick"], result["read"]
    rows = [
        ("record: CPU µs to build + encode", r["cpu_us"], "", "", ""),
        ("record: bytes", r["bytes"], "", "", "<= 16384"),
        ("tick p50 µs: publishing / not", t["publish"]["p50_us"], t["plain"]["p50_us"],
         t["p50_ratio"], "1 round trip each"),
        ("tick CPU µs: publishing / not", t["publish"]["cpu_us"], t["plain"]["cpu_us"], "", ""),
        ("cluster() with 10 nodes, p50 µs", rd["p50_us"], "", "", ""),
    ]  # fmt: skip
    emit(result, as_json=args.json, title="cluster statistics", rows=rows,
         columns=("figure", "ours", "peer", "ratio", "goal"))  # fmt: skip


if __name__ == "__main__":
    main()
