"""Fenced writes benchmark: what the fencing token costs a durable write on Redis.

Each figure is measured against its unfenced peer in the same run, rounds alternating
(the machine is shared: read the ratios):

- ``put``: ``RedisStore.put_fenced`` (the fenced-write Lua script, EVALSHA: read the
  agent's token, compare, SET) against ``RedisStore.put`` (a plain SET) of the same ~1 KiB
  value under the same hash tag;
- ``batch``: ``put_many_fenced`` of 16 values (a write-behind flush) against ``put_many``
  (one MSET);
- ``claim``: ``ClusterScripts.claim`` of an agent this node already owns (the script's
  fast path) against a plain GET of its directory entry's field (``HGET``).

    python -m loadtest.bench.fencing            # table
    python -m loadtest.bench.fencing --json     # one JSON object
    python -m loadtest.bench.fencing --quick --json
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from agentrt.cluster import ClusterKeys, ClusterScripts
from agentrt.memory import Fence
from agentrt.memory.stores import RedisStore
from loadtest.bench.measure import bench_parser, emit, local_redis, summarize

VALUE = bytes(range(256)) * 4  # 1 KiB that does not compress: stored as given


async def _alternate(
    sides: dict[str, Callable[[], Awaitable[Any]]], rounds: int, per_round: int = 50
) -> dict[str, list[float]]:
    """Run each side ``per_round`` times per round, sides alternating; the durations."""
    out: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, op in sides.items():
            samples = out[name]
            for _ in range(per_round):
                started = time.perf_counter()
                await op()
                samples.append(time.perf_counter() - started)
    return out


def _figures(samples: dict[str, list[float]]) -> dict[str, Any]:
    ours, peer = (summarize(samples[k], qs=(50, 99)) for k in ("fenced", "plain"))
    return {
        "fenced": ours,
        "plain": peer,
        "p50_ratio": round(ours["p50_us"] / max(peer["p50_us"], 1e-9), 2),
    }


async def bench(url: str, ops: int) -> dict[str, Any]:
    prefix = f"agentrt-bench:{uuid.uuid4().hex[:12]}:"
    client = aioredis.Redis.from_url(url)
    scripts = ClusterScripts(client, ClusterKeys(prefix + "cl:"))
    store = RedisStore(url, prefix=prefix + "mem:", max_connections=4)
    try:
        claim = await scripts.claim("a-1", "n1", 1)
        fence = Fence(key=scripts.keys.agent_dir("a-1"), token=claim.token)
        tag = scripts.keys.agent_tag("a-1")
        batch = {f"{tag}m/{i}": VALUE for i in range(16)}
        dir_key = scripts.keys.agent_dir("a-1")
        sides: dict[str, dict[str, Callable[[], Awaitable[Any]]]] = {
            "put": {
                "fenced": lambda: store.put_fenced(tag + "head", VALUE, fence),
                "plain": lambda: store.put(tag + "head", VALUE),
            },
            "batch": {
                "fenced": lambda: store.put_many_fenced(batch, fence),
                "plain": lambda: store.put_many(batch),
            },
            "claim": {
                "fenced": lambda: scripts.claim("a-1", "n1", 1),
                "plain": lambda: client.hget(dir_key, "t"),
            },
        }
        rounds = max(2, ops // 50)
        result = {}
        for part, pair in sides.items():
            await _alternate(pair, 1, 20)  # warm-up: connections, script cache
            result[part] = _figures(await _alternate(pair, rounds))
        stats = store.stats()
        result["errors"] = stats["errors"]
        result["ops"] = rounds * 50
        return result
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await client.delete(*keys)
        await store.aclose()
        await client.aclose()


async def run(quick: bool) -> dict[str, Any]:
    async with local_redis() as url:
        return await bench(url, 500 if quick else 5_000)


def main() -> None:
    args = bench_parser(__doc__.split("\n\n")[0] if __doc__ else "").parse_args()
    result = asyncio.run(run(args.quick))
    rows = [
        (
            part,
            result[part]["fenced"]["p50_us"],
            result[part]["plain"]["p50_us"],
            result[part]["fenced"]["p99_us"],
            result[part]["plain"]["p99_us"],
            result[part]["p50_ratio"],
        )
        for part in ("put", "batch", "claim")
    ]
    emit(
        result,
        as_json=args.json,
        title=f"fenced vs plain on Redis ({result['ops']:,} ops per side, µs)",
        rows=rows,
        columns=("operation", "fenced p50", "plain p50", "fenced p99", "plain p99", "ratio"),
    )


if __name__ == "__main__":
    main()
