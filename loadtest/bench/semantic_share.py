"""Shared semantic cache benchmark: what sharing entries through Redis adds to a lookup.

On a real Redis (127.0.0.1:6379, or a redis-server started for the run), one context
filled with ``entries`` shared entries of 384-dimensional vectors (MiniLM's size), each
measured against its peer in the same run, interleaved so both see the same noise:

- ``load``: a node's first load of the context (``SemanticShare.sync``: ``XRANGE`` of
  every entry, decoding, checking and adding them to a fresh ``SemanticIndex``), against
  a raw ``XRANGE`` of the same stream (``redis.asyncio``): the ratio is what decoding and
  indexing add to the network read;
- ``refresh``: a reload with nothing new (after ``refresh_s``: one ``XRANGE`` after the
  last id), against a raw ``PING``: the price of checking for other nodes' entries;
- ``hit``: a shared hit (search, then the answer read from the exact cache's store on
  Redis and decoded: the authoritative check), against a local hit (the search alone,
  what an unshared node pays).

    python -m loadtest.bench.semantic_share            # table
    python -m loadtest.bench.semantic_share --json     # one JSON object
    python -m loadtest.bench.semantic_share --quick --json
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from agentrt.llm import ChatResponse, SemanticCachePolicy, SemanticIndex, SemanticShare, Usage
from agentrt.llm._semshare import SharedRef
from agentrt.tools import LLMResponseCache, RedisBackend, RedisCacheConfig, ResultCache
from agentrt.tools.cache import RedisSemanticStore
from loadtest.bench.measure import bench_parser, emit, local_redis, summarize

DIM = 384
CONTEXT = "bench:ctx"
POLICY = SemanticCachePolicy(enabled=True, embedding_model="bench", ttl_s=3600)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _alternate(
    ours: Callable[[], Awaitable[Any]], peer: Callable[[], Awaitable[Any]], rounds: int
) -> tuple[list[float], list[float]]:
    """Time ``ours`` and ``peer`` once per round, the order flipping every round."""
    times: tuple[list[float], list[float]] = ([], [])
    perf = time.perf_counter
    for n in range(rounds):
        order = ((0, ours), (1, peer)) if n % 2 else ((1, peer), (0, ours))
        for side, op in order:
            start = perf()
            await op()
            times[side].append(perf() - start)
    return times


def _share(config: RedisCacheConfig, store: LLMResponseCache, clock: _Clock) -> SemanticShare:
    return SemanticShare(RedisSemanticStore(config, "bench"), store, clock=clock)


async def bench(url: str, entries: int, rounds: int) -> dict[str, Any]:
    prefix = f"agentrt-bench:{uuid.uuid4().hex[:8]}:"
    config = RedisCacheConfig(url=url, key_prefix=prefix, op_timeout=5.0, connect_timeout=5.0)
    store = LLMResponseCache(ResultCache(RedisBackend(config), namespace="bench"))
    raw = aioredis.Redis.from_url(url)
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((entries, DIM)).astype(np.float32)
    clock = _Clock()
    writer = _share(config, store, clock)
    readers: list[SemanticShare] = []
    try:
        answer = ChatResponse(content="x" * 400, usage=Usage(input_tokens=50, output_tokens=100))
        for n in range(entries):
            ref = writer.ref(CONTEXT, f"question {n}", vectors[n].tolist(), answer, POLICY)
            await writer.publish(CONTEXT, ref, POLICY)
        key = f"{prefix}bench:sem:{CONTEXT}"

        async def load() -> None:
            reader = _share(config, store, clock)
            readers.append(reader)
            index = SemanticIndex(max_entries=entries + 10)
            await reader.sync(CONTEXT, index, DIM)
            assert len(index) == entries, (len(index), entries)

        async def raw_xrange() -> None:
            await raw.xrange(key, "-", "+", entries)

        load_t, xrange_t = await _alternate(load, raw_xrange, rounds)

        index = SemanticIndex(max_entries=entries + 10)
        reader = _share(config, store, clock)
        readers.append(reader)
        await reader.sync(CONTEXT, index, DIM)

        async def refresh() -> None:
            clock.now += reader.refresh_s
            await reader.sync(CONTEXT, index, DIM)

        async def ping() -> None:
            await raw.ping()

        refresh_t, ping_t = await _alternate(refresh, ping, rounds * 10)
        probes = [vectors[n % entries] for n in range(rounds * 10)]
        which = iter(range(len(probes) * 2))

        async def shared_hit() -> None:
            found = index.search(CONTEXT, probes[next(which) % len(probes)], 0.99)
            assert found is not None
            assert isinstance(found[0], SharedRef)
            assert await reader.answer(CONTEXT, found[0], index) is not None

        async def local_hit() -> None:
            found = index.search(CONTEXT, probes[next(which) % len(probes)], 0.99)
            assert found is not None

        shared_t, local_t = await _alternate(shared_hit, local_hit, rounds * 10)
    finally:
        for share in (writer, *readers):
            await share.aclose()
        keys = [k async for k in raw.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await raw.delete(*keys)
        await raw.aclose()
        await store.aclose()
    return {
        "entries": entries,
        "dim": DIM,
        "load": summarize(load_t, "ms"),
        "raw_xrange": summarize(xrange_t, "ms"),
        "refresh": summarize(refresh_t),
        "raw_ping": summarize(ping_t),
        "shared_hit": summarize(shared_t),
        "local_hit": summarize(local_t),
    }


async def run(quick: bool) -> dict[str, Any]:
    async with local_redis() as url:
        return await bench(url, 200 if quick else 1000, 5 if quick else 30)


def _ratios(full: dict[str, Any]) -> dict[str, float]:
    def ratio(ours: str, peer: str, unit: str) -> float:
        return round(full[ours][f"p50_{unit}"] / full[peer][f"p50_{unit}"], 2)

    return {
        "load_over_raw_xrange": ratio("load", "raw_xrange", "ms"),
        "refresh_over_raw_ping": ratio("refresh", "raw_ping", "us"),
        "shared_hit_over_local_hit": ratio("shared_hit", "local_hit", "us"),
    }


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0] if __doc__ else "semantic share benchmark")
    args = parser.parse_args()
    full = asyncio.run(run(args.quick))
    ratios = _ratios(full)
    rows = [
        ["first load p50 (ms)", full["load"]["p50_ms"], full["raw_xrange"]["p50_ms"]],
        ["first load p99 (ms)", full["load"]["p99_ms"], full["raw_xrange"]["p99_ms"]],
        ["refresh, nothing new p50 (us)", full["refresh"]["p50_us"], full["raw_ping"]["p50_us"]],
        ["refresh, nothing new p99 (us)", full["refresh"]["p99_us"], full["raw_ping"]["p99_us"]],
        ["hit p50 (us)", full["shared_hit"]["p50_us"], full["local_hit"]["p50_us"]],
        ["hit p99 (us)", full["shared_hit"]["p99_us"], full["local_hit"]["p99_us"]],
    ]
    emit(
        {**full, "ratios": ratios},
        as_json=args.json,
        title=(
            f"shared semantic entries, {full['entries']} in one context "
            "(peers: raw XRANGE, raw PING, local hit)"
        ),
        rows=rows,
        columns=["measure", "shared", "peer"],
    )


if __name__ == "__main__":
    main()
