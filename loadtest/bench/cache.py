"""Tool-result cache benchmark: agentrt's cache against the peers a user would reach for.

Three parts, all in one run (the machine is shared and noisy: read the ratios):

- ``memory``: hit and miss latency (p50/p99) and hit ops/s of ``ResultCache`` over
  ``MemoryBackend`` against ``cachetools.TTLCache`` behind an ``async def get`` wrapper.
  Both derive the key the same way (``tool_key`` over the canonical JSON of the arguments)
  inside the timed region; rounds alternate between the two.
- ``redis``: hit latency of ``ResultCache`` over ``RedisBackend`` (GET + format byte +
  msgpack decode + stats) against a raw ``redis.asyncio`` GET of the same key and bytes,
  one request at a time, alternating rounds. Uses the Redis on 127.0.0.1:6379 when one
  answers, else starts a private one; its keys live under a unique prefix, deleted after.
- ``memcached``: hit latency of ``ResultCache`` over ``MemcachedBackend`` (GET + header +
  msgpack decode + stats) against a raw emcache GET of the same key and bytes, the same way
  as ``redis``; and a tagged hit (one more round trip: the multi-get of its tag counters)
  against the same raw GET, reported without a bar. Uses the memcached on 127.0.0.1:11211
  when one answers, else starts a private one; its keys live under a unique prefix and
  expire (memcached cannot list keys to delete them).
- ``validate``: the cost of validating one tool call's arguments (JSON text as the LLM
  sends it: 4 arguments, one a nested dataclass) with ``Tool.validate`` (parse, validate,
  coerce, defaults filled in, field-by-field errors) against raw pydantic
  (``TypeAdapter.validate_json`` over the equivalent TypedDict) and msgspec
  (``msgspec.json.decode`` into the equivalent Structs), interleaved in batches.
- ``swarm``: 1,000 concurrent agents each make a series of tool calls through a
  ``ToolRegistry`` with a two-level (memory + Redis) cache; the calls are drawn from 50
  distinct (tool, arguments) pairs with a Zipf-like repeat distribution. Reports the hit
  ratio (cache hits / lookups; joins of a concurrent execution count as misses) and how
  many times the tool really ran.

Bars (issue 5): memory hit p50 <= 1.5x the cachetools peer; Redis hit p99 <= 1.2x the raw
GET p99; swarm executions == distinct keys and hit ratio >= 0.8. Issue 15: memcached hit
p50 and p99 <= 1.2x the raw GET.

    python -m loadtest.bench.cache            # table
    python -m loadtest.bench.cache --json     # one JSON object
    python -m loadtest.bench.cache --quick --json
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NotRequired

import cachetools
import emcache
import msgspec
import pydantic
import redis.asyncio as aioredis
from typing_extensions import TypedDict

from agentrt.tools import (
    CachePolicy,
    MemcachedBackend,
    MemcachedCacheConfig,
    MemoryBackend,
    MemoryCacheConfig,
    RedisBackend,
    RedisCacheConfig,
    ResultCache,
    ToolPolicy,
    ToolRegistry,
    TwoLevelBackend,
    tool,
)
from agentrt.tools._tool import canonical_json
from agentrt.tools.cache._keys import tool_key
from agentrt.tools.cache._memcached_backend import memcached_key
from loadtest.bench.measure import (
    bench_parser,
    emit,
    local_memcached,
    local_redis,
    summarize,
)

NAMESPACE = "bench"
VALUE = '{"city": "Paris", "temp_c": 18.5, "conditions": "partly cloudy", "wind_kmh": 12}'


def _arguments(n: int) -> list[dict[str, Any]]:
    return [{"city": f"city-{i}", "unit": "c", "days": 1 + i % 7} for i in range(n)]


def _key(args: dict[str, Any]) -> str:
    return tool_key(NAMESPACE, "weather", canonical_json(args))


class CachetoolsPeer:
    """What a user would write: cachetools.TTLCache behind an async get/put."""

    def __init__(self, maxsize: int, ttl: float) -> None:
        self._cache: cachetools.TTLCache[str, Any] = cachetools.TTLCache(maxsize, ttl)

    async def get(self, key: str) -> Any:
        return self._cache.get(key)

    async def put(self, key: str, value: Any) -> None:
        self._cache[key] = value


async def _alternate(
    ops: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]],
    args: list[dict[str, Any]],
    rounds: int,
) -> dict[str, list[float]]:
    """Time each op on every argument, interleaved op by op (the order flips every
    operation) so that both sides see the same machine noise."""
    names = list(ops)
    out: dict[str, list[float]] = {name: [] for name in names}
    perf = time.perf_counter
    flip = False
    for _ in range(rounds):
        for a in args:
            flip = not flip
            for name in reversed(names) if flip else names:
                start = perf()
                await ops[name](a)
                out[name].append(perf() - start)
    return out


async def bench_memory(ops: int) -> dict[str, Any]:
    keys_n = 1000
    args = _arguments(keys_n)
    ours = ResultCache(MemoryBackend(MemoryCacheConfig(max_entries=10_000)), namespace=NAMESPACE)
    peer = CachetoolsPeer(10_000, 3600)
    for a in args:
        await ours.put(_key(a), VALUE, ttl=3600)
        await peer.put(_key(a), VALUE)
    misses = [{"city": f"absent-{i}", "unit": "f", "days": 0} for i in range(keys_n)]

    async def ours_get(a: dict[str, Any]) -> Any:
        return await ours.get(_key(a))

    async def peer_get(a: dict[str, Any]) -> Any:
        return await peer.get(_key(a))

    for _ in range(2):  # warm-up
        await _alternate({"ours": ours_get, "peer": peer_get}, args, 1)
    rounds = max(2, ops // keys_n)
    hits = await _alternate({"ours": ours_get, "peer": peer_get}, args, rounds)
    miss = await _alternate({"ours": ours_get, "peer": peer_get}, misses, max(2, rounds // 4))
    assert ours.stats()["hits"] >= rounds * keys_n
    out = {
        "hit": {k: summarize(v, qs=(50, 99)) for k, v in hits.items()},
        "miss": {k: summarize(v, qs=(50, 99)) for k, v in miss.items()},
        "hit_ops_s": {k: round(len(v) / sum(v)) for k, v in hits.items()},
    }
    await ours.aclose()
    return out


async def bench_redis(url: str, ops: int) -> dict[str, Any]:
    prefix = f"agentrt-bench:{uuid.uuid4().hex[:12]}:"
    keys_n = 200
    args = _arguments(keys_n)
    backend = RedisBackend(
        RedisCacheConfig(url=url, key_prefix=prefix, max_connections=8, op_timeout=5.0)
    )
    ours = ResultCache(backend, namespace=NAMESPACE)
    raw = aioredis.Redis(
        connection_pool=aioredis.BlockingConnectionPool.from_url(url, max_connections=8)
    )
    try:
        for a in args:
            await ours.put(_key(a), VALUE, ttl=600)

        async def ours_get(a: dict[str, Any]) -> Any:
            return await ours.get(_key(a))

        async def raw_get(a: dict[str, Any]) -> Any:
            return await raw.get(prefix + _key(a))

        await _alternate({"ours": ours_get, "peer": raw_get}, args, 2)  # warm-up
        rounds = max(2, ops // keys_n)
        hits = await _alternate({"ours": ours_get, "peer": raw_get}, args, rounds)
        absent = [{"city": f"absent-{i}", "unit": "f", "days": 0} for i in range(keys_n)]
        miss = await _alternate({"ours": ours_get, "peer": raw_get}, absent, max(2, rounds // 4))
        assert ours.stats()["backend_errors"] == 0
        return {
            "hit": {k: summarize(v, qs=(50, 99)) for k, v in hits.items()},
            "miss": {k: summarize(v, qs=(50, 99)) for k, v in miss.items()},
            "hit_ops_s": {k: round(len(v) / sum(v)) for k, v in hits.items()},
        }
    finally:
        keys = [k async for k in raw.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await raw.delete(*keys)
        await raw.aclose()
        await ours.aclose()


async def bench_memcached(url: str, ops: int) -> dict[str, Any]:
    prefix = f"agentrt-bench:{uuid.uuid4().hex[:12]}:"
    keys_n = 200
    args = _arguments(keys_n)
    config = MemcachedCacheConfig(url=url, key_prefix=prefix, max_connections=8, op_timeout=5.0)
    ours = ResultCache(MemcachedBackend(config), namespace=NAMESPACE)
    raw = await emcache.create_client(
        [emcache.MemcachedHostAddress(*config.address)], timeout=5.0, max_connections=8
    )
    try:
        for a in args:
            await ours.put(_key(a), VALUE, ttl=600)
            await ours.put(_key(a) + ":tagged", VALUE, ttl=600, tags=("tool:weather",))

        async def ours_get(a: dict[str, Any]) -> Any:
            return await ours.get(_key(a))

        async def ours_tagged(a: dict[str, Any]) -> Any:
            return await ours.get(_key(a) + ":tagged")

        async def raw_get(a: dict[str, Any]) -> Any:
            item = await raw.get(memcached_key(prefix, "k", _key(a)))
            return None if item is None else item.value

        pair = {"ours": ours_get, "peer": raw_get}
        await _alternate(pair, args, 2)  # warm-up
        rounds = max(2, ops // keys_n)
        hits = await _alternate(pair, args, rounds)
        tagged = await _alternate({"ours": ours_tagged, "peer": raw_get}, args, rounds)
        absent = [{"city": f"absent-{i}", "unit": "f", "days": 0} for i in range(keys_n)]
        miss = await _alternate(pair, absent, max(2, rounds // 4))
        stats = ours.stats()
        assert stats["backend_errors"] == 0
        assert stats["hits"] >= 2 * rounds * keys_n
        return {
            "hit": {k: summarize(v, qs=(50, 99)) for k, v in hits.items()},
            "tagged hit": {k: summarize(v, qs=(50, 99)) for k, v in tagged.items()},
            "miss": {k: summarize(v, qs=(50, 99)) for k, v in miss.items()},
            "hit_ops_s": {k: round(len(v) / sum(v)) for k, v in hits.items()},
        }
    finally:
        await raw.close()
        await ours.aclose()


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (rank**s) for rank in range(1, n + 1)]


async def bench_swarm(url: str, agents: int, calls_per_agent: int, distinct: int) -> dict[str, Any]:
    prefix = f"agentrt-bench:{uuid.uuid4().hex[:12]}:"
    executions: list[str] = []

    @tool(policy=ToolPolicy(cache=CachePolicy(ttl=600), max_concurrency=64))
    async def lookup(item: int) -> dict[str, int]:
        """A slow external lookup."""
        executions.append(str(item))
        await asyncio.sleep(0.005)
        return {"item": item, "stock": item * 3}

    l2 = RedisBackend(RedisCacheConfig(url=url, key_prefix=prefix, op_timeout=5.0))
    cache = ResultCache(TwoLevelBackend(MemoryBackend(), l2), namespace=f"{NAMESPACE}-swarm")
    registry = ToolRegistry([lookup], cache=cache)
    rng = random.Random(5)
    weights = _zipf_weights(distinct)
    plans = [rng.choices(range(distinct), weights, k=calls_per_agent) for _ in range(agents)]
    requested = {item for plan in plans for item in plan}

    async def agent(i: int, plan: list[int]) -> int:
        errors = 0
        for item in plan:
            result = await registry.invoke("lookup", {"item": item}, agent_id=f"agent-{i}")
            errors += not result.ok
            await asyncio.sleep(0)  # think time: let the other agents in
        return errors

    start = time.perf_counter()
    errors = sum(await asyncio.gather(*(agent(i, p) for i, p in enumerate(plans))))
    elapsed = time.perf_counter() - start
    stats = cache.stats()
    raw = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in raw.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await raw.delete(*keys)
    finally:
        await raw.aclose()
    await registry.aclose()
    await cache.aclose()
    return {
        "agents": agents,
        "calls": agents * calls_per_agent,
        "distinct_keys": len(requested),
        "executions": len(executions),
        "hit_ratio": stats["hit_ratio"],
        "joins": stats["singleflight_joins"],
        "errors": errors,
        "degraded": stats["degraded"],
        "calls_per_s": round(agents * calls_per_agent / elapsed),
    }


@dataclasses.dataclass
class _Window:
    start: str
    days: int = 1


def _book(city: str, guests: int, window: _Window, tags: list[str] | None = None) -> str:
    return city


class _WindowTD(TypedDict):
    start: str
    days: NotRequired[int]


class _BookTD(TypedDict):
    city: str
    guests: int
    window: _WindowTD
    tags: NotRequired[list[str] | None]


class _WindowStruct(msgspec.Struct, forbid_unknown_fields=True):
    start: str
    days: int = 1


class _BookStruct(msgspec.Struct, forbid_unknown_fields=True):
    city: str
    guests: int
    window: _WindowStruct
    tags: list[str] | None = None


VALIDATE_ARGS = b'{"city": "Paris", "guests": 2, "window": {"start": "2026-05-01", "days": 3}, '
VALIDATE_ARGS += b'"tags": ["quiet", "view"]}'


def bench_validate(calls: int) -> dict[str, Any]:
    """Per-call validation cost (us) of agentrt, raw pydantic and msgspec, in batches of
    200 calls interleaved (the order flips every batch)."""
    book = tool(_book)
    adapter = pydantic.TypeAdapter(_BookTD)
    decoder = msgspec.json.Decoder(_BookStruct)
    text = VALIDATE_ARGS.decode()
    ops: dict[str, Callable[[], Any]] = {
        "agentrt": lambda: book.validate(text),
        "pydantic": lambda: adapter.validate_json(VALIDATE_ARGS),
        "msgspec": lambda: decoder.decode(VALIDATE_ARGS),
    }
    assert book.validate(text)["window"] == _Window("2026-05-01", 3)
    batch = 200
    samples: dict[str, list[float]] = {name: [] for name in ops}
    perf = time.perf_counter
    names = list(ops)
    for i in range(max(4, calls // batch)):
        for name in names if i % 2 else reversed(names):
            op = ops[name]
            start = perf()
            for _ in range(batch):
                op()
            samples[name].append((perf() - start) / batch)
    return {name: summarize(v, qs=(50, 99)) for name, v in samples.items()}


async def run(quick: bool) -> dict[str, Any]:
    validate = bench_validate(20_000 if quick else 400_000)
    async with local_redis() as url, local_memcached() as mc_url:
        memory = await bench_memory(20_000 if quick else 200_000)
        redis = await bench_redis(url, 2_000 if quick else 20_000)
        memcached = await bench_memcached(mc_url, 2_000 if quick else 20_000)
        swarm = await bench_swarm(url, 1000, 10 if quick else 20, 50)
    return {
        "memory": memory,
        "redis": redis,
        "memcached": memcached,
        "swarm": swarm,
        "validate": validate,
    }


def _result(full: dict[str, Any]) -> dict[str, Any]:
    mem, red, swarm, mc = full["memory"], full["redis"], full["swarm"], full["memcached"]
    return {
        "memory": {
            "hit_p50_us": mem["hit"]["ours"]["p50_us"],
            "hit_p99_us": mem["hit"]["ours"]["p99_us"],
            "peer_hit_p50_us": mem["hit"]["peer"]["p50_us"],
        },
        "redis": {
            "hit_p50_us": red["hit"]["ours"]["p50_us"],
            "hit_p99_us": red["hit"]["ours"]["p99_us"],
            "peer_hit_p99_us": red["hit"]["peer"]["p99_us"],
        },
        "memcached": {
            "hit_p50_us": mc["hit"]["ours"]["p50_us"],
            "hit_p99_us": mc["hit"]["ours"]["p99_us"],
            "peer_hit_p50_us": mc["hit"]["peer"]["p50_us"],
            "peer_hit_p99_us": mc["hit"]["peer"]["p99_us"],
            "tagged_hit_p50_us": mc["tagged hit"]["ours"]["p50_us"],
            "tagged_hit_p99_us": mc["tagged hit"]["ours"]["p99_us"],
        },
        "validate": {
            "agentrt_p50_us": full["validate"]["agentrt"]["p50_us"],
            "pydantic_p50_us": full["validate"]["pydantic"]["p50_us"],
            "msgspec_p50_us": full["validate"]["msgspec"]["p50_us"],
        },
        "swarm": {
            "hit_ratio": swarm["hit_ratio"],
            "executions": swarm["executions"],
            "distinct_keys": swarm["distinct_keys"],
        },
    }


def _rows(full: dict[str, Any]) -> list[list[Any]]:
    mem, red, sw, mc = full["memory"], full["redis"], full["swarm"], full["memcached"]
    rows: list[list[Any]] = []
    for label, part, peer in (
        ("memory", mem, "cachetools.TTLCache"),
        ("redis", red, "raw GET"),
        ("memcached", mc, "raw emcache GET"),
    ):
        for kind in ("hit", "tagged hit", "miss"):
            if kind not in part:
                continue
            o, p = part[kind]["ours"], part[kind]["peer"]
            rows.append(
                [
                    f"{label} {kind} p50 (us)",
                    o["p50_us"],
                    p["p50_us"],
                    o["p50_us"] / p["p50_us"],
                    peer,
                ]
            )
            rows.append(
                [
                    f"{label} {kind} p99 (us)",
                    o["p99_us"],
                    p["p99_us"],
                    o["p99_us"] / p["p99_us"],
                    peer,
                ]
            )
        ops = part["hit_ops_s"]
        rows.append(
            [f"{label} hit ops/s", ops["ours"], ops["peer"], ops["ours"] / ops["peer"], peer]
        )
    val = full["validate"]
    for peer in ("pydantic", "msgspec"):
        ours, theirs = val["agentrt"]["p50_us"], val[peer]["p50_us"]
        note = "TypeAdapter.validate_json" if peer == "pydantic" else "json.Decoder(Struct)"
        rows.append([f"validate 4 args p50 (us) vs {peer}", ours, theirs, ours / theirs, note])
    rows.append(
        ["swarm hit ratio", sw["hit_ratio"], "", "", f"{sw['agents']} agents, {sw['calls']} calls"]
    )
    rows.append(["swarm executions", sw["executions"], sw["distinct_keys"], "", "vs distinct keys"])
    rows.append(
        ["swarm joins / errors", sw["joins"], sw["errors"], "", f"{sw['calls_per_s']} calls/s"]
    )
    return rows


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0] if __doc__ else "cache benchmark")
    args = parser.parse_args()
    full = asyncio.run(run(args.quick))
    emit(
        _result(full),
        as_json=args.json,
        title="agentrt tool-result cache (ratio = agentrt / peer)",
        rows=_rows(full),
        columns=["measure", "agentrt", "peer", "ratio", "note"],
    )


if __name__ == "__main__":
    main()
