"""Graceful degradation against a private redis-server that the tests stop and restart."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis
from support.tcpproxy import TcpProxy
from support.waiting import eventually

from agentrt.testing import RedisServer
from agentrt.tools import (
    CachePolicy,
    MemoryBackend,
    RedisBackend,
    RedisCacheConfig,
    ResultCache,
    ToolPolicy,
    ToolRegistry,
    TwoLevelBackend,
    TwoLevelConfig,
    tool,
)

FAST_PROBE = TwoLevelConfig(probe_initial=0.02, probe_max=0.1)


def _cache(url: str, op_timeout: float = 2.0) -> ResultCache:
    """A two-level cache over Redis at ``url``. The default ``op_timeout`` is far beyond a
    loaded machine's Redis round trip, so only a real outage (refused connections) or a
    server-side stall longer than it counts as one."""
    cfg = RedisCacheConfig(url=url, op_timeout=op_timeout, connect_timeout=op_timeout)
    l2 = RedisBackend(cfg)
    return ResultCache(TwoLevelBackend(MemoryBackend(), l2, FAST_PROBE), namespace="deg")


async def test_outage_serves_from_memory_and_recovers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agentrt.tools.cache.twolevel")
    runs: list[str] = []

    @tool(policy=ToolPolicy(cache=CachePolicy(ttl=60)))
    async def price(sku: str) -> float:
        runs.append(sku)
        return 9.99

    cache = _cache(own_redis.url)
    registry = ToolRegistry([price], cache=cache)
    backend = cache.backend
    assert isinstance(backend, TwoLevelBackend)
    assert (await registry.invoke("price", {"sku": "a"})).ok

    await asyncio.to_thread(own_redis.stop)  # the outage begins mid-run
    results = [await registry.invoke("price", {"sku": s}) for s in ["a", "b", "c", "b", "a"] * 4]
    assert all(r.ok for r in results)  # the agent never sees a Redis error
    assert runs == ["a", "b", "c"]  # memory still caches during the outage
    stats = cache.stats()
    assert stats["degraded"] is True
    assert stats["backend"]["outages"] == 1
    assert stats["backend_errors"] >= 1
    errors_while_degraded = stats["backend"]["backend_errors"]
    await registry.invoke("price", {"sku": "d"})
    assert cache.stats()["backend"]["backend_errors"] >= errors_while_degraded
    assert await cache.invalidate_tool("price") == 4  # applied to L1 now, to Redis later
    assert cache.stats()["backend"]["pending_invalidations"] == 1

    await asyncio.to_thread(own_redis.start)  # same port
    await eventually(lambda: not backend.degraded)
    assert cache.stats()["backend"]["pending_invalidations"] == 0
    outage_lines = [r for r in caplog.records if "unavailable" in r.getMessage()]
    back_lines = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(outage_lines) == 1  # logged once per outage, not per request
    assert len(back_lines) == 1

    await registry.invoke("price", {"sku": "e"})  # written through to Redis again
    raw = aioredis.Redis.from_url(own_redis.url)
    try:
        assert len([k async for k in raw.scan_iter(match="deg:tool:price:*")]) == 1
    finally:
        await raw.aclose()
    await registry.aclose()
    await cache.aclose()


async def test_slow_redis_counts_as_an_outage(own_redis: RedisServer) -> None:
    """A Redis that stops answering (a TCP proxy that hangs: no time-bound pause that a
    loaded machine could outlast) flips the cache to degraded after ``op_timeout``; the
    value is computed and served; once Redis answers again the cache recovers."""
    async with TcpProxy(own_redis.port) as proxy:
        cache = _cache(f"redis://127.0.0.1:{proxy.port}/0", op_timeout=0.1)
        backend = cache.backend
        assert isinstance(backend, TwoLevelBackend)
        try:
            await proxy.hang()  # every command stalls until the proxy is up again

            async def compute() -> object:
                from agentrt.tools import Outcome

                return Outcome("computed")

            got = await cache.get_or_compute("deg:k", compute, ttl=30)
            assert got.value == "computed"
            assert backend.degraded  # the stall cannot end by itself
            assert cache.stats()["backend"]["outages"] == 1
            await proxy.up()
            await eventually(lambda: not backend.degraded)  # recovers once Redis answers
            assert cache.stats()["backend"]["outages"] == 1
        finally:
            await cache.aclose()


async def test_redis_down_from_the_start_and_close_leaves_no_probe(own_redis: RedisServer) -> None:
    await asyncio.to_thread(own_redis.stop)
    cache = _cache(own_redis.url)

    async def compute() -> object:
        from agentrt.tools import Outcome

        return Outcome(1)

    assert (await cache.get_or_compute("deg:x", compute, ttl=5)).value == 1
    assert cache.stats()["degraded"] is True
    await cache.aclose()
    me = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not me and not t.done()] == []


@pytest.mark.parametrize("field", ["l1_max_ttl", "probe_initial", "probe_max"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0, -1.0, True, 1e300])
def test_two_level_timings_are_bounded_naming_the_field(field: str, bad: object) -> None:
    # NaN passed the old "<= 0" check, then the reconnection probe slept nan seconds
    from agentrt.errors import ConfigError

    with pytest.raises(ConfigError, match=f"'{field}'"):
        TwoLevelConfig(**{field: bad})  # type: ignore[arg-type]
