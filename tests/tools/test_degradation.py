"""Graceful degradation against a private redis-server or memcached that the tests stop
and restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from support.tcpproxy import TcpProxy
from support.waiting import eventually

from agentrt.testing import MemcachedServer, RedisServer
from agentrt.tools import (
    CachePolicy,
    MemcachedBackend,
    MemcachedCacheConfig,
    MemoryBackend,
    Outcome,
    RedisBackend,
    RedisCacheConfig,
    ResultCache,
    ToolPolicy,
    ToolRegistry,
    TwoLevelBackend,
    TwoLevelConfig,
    tool,
)
from agentrt.tools._tool import canonical_json
from agentrt.tools.cache._keys import tool_key

FAST_PROBE = TwoLevelConfig(probe_initial=0.02, probe_max=0.1)

L2Server = RedisServer | MemcachedServer


@pytest.fixture(params=["redis", "memcached"])
def l2_server(request: pytest.FixtureRequest) -> Iterator[L2Server]:
    """A private server of each L2 kind, which the test may stop and start."""
    server: L2Server = RedisServer() if request.param == "redis" else MemcachedServer()
    try:
        server.start()
    except Exception as exc:
        pytest.fail(f"could not start a private {server.binary}: {exc}")
    try:
        yield server
    finally:
        server.close()


def _url(server: L2Server, port: int | None = None) -> str:
    """The server's URL, or the same server's URL on ``port`` (a proxy in front)."""
    return server.url if port is None else server.url.replace(str(server.port), str(port))


def _cache(url: str, op_timeout: float = 2.0) -> ResultCache:
    """A two-level cache over Redis or memcached at ``url``. The default ``op_timeout`` is
    far beyond a loaded machine's round trip, so only a real outage (refused connections)
    or a server-side stall longer than it counts as one."""
    l2: RedisBackend | MemcachedBackend
    if url.startswith("memcached://"):
        mc = MemcachedCacheConfig(url=url, op_timeout=op_timeout, connect_timeout=op_timeout)
        l2 = MemcachedBackend(mc)
    else:
        cfg = RedisCacheConfig(url=url, op_timeout=op_timeout, connect_timeout=op_timeout)
        l2 = RedisBackend(cfg)
    return ResultCache(TwoLevelBackend(MemoryBackend(), l2, FAST_PROBE), namespace="deg")


async def test_outage_serves_from_memory_and_recovers(
    l2_server: L2Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agentrt.tools.cache.twolevel")
    runs: list[str] = []

    @tool(policy=ToolPolicy(cache=CachePolicy(ttl=60)))
    async def price(sku: str) -> float:
        runs.append(sku)
        return 9.99

    cache = _cache(l2_server.url)
    registry = ToolRegistry([price], cache=cache)
    backend = cache.backend
    assert isinstance(backend, TwoLevelBackend)
    # subscribed to invalidations first: an L1 write made before the subscription is
    # dropped when it completes (it may have missed one), and "a" would run twice
    assert await backend.start(timeout=30.0)
    assert (await registry.invoke("price", {"sku": "a"})).ok

    await asyncio.to_thread(l2_server.stop)  # the outage begins mid-run
    results = [await registry.invoke("price", {"sku": s}) for s in ["a", "b", "c", "b", "a"] * 4]
    assert all(r.ok for r in results)  # the agent never sees an L2 error
    assert runs == ["a", "b", "c"]  # memory still caches during the outage
    stats = cache.stats()
    assert stats["degraded"] is True
    assert stats["backend"]["outages"] == 1
    assert stats["backend_errors"] >= 1
    errors_while_degraded = stats["backend"]["backend_errors"]
    await registry.invoke("price", {"sku": "d"})
    assert cache.stats()["backend"]["backend_errors"] >= errors_while_degraded
    assert await cache.invalidate_tool("price") == 4  # applied to L1 now, to L2 later
    assert cache.stats()["backend"]["pending_invalidations"] == 1

    await asyncio.to_thread(l2_server.start)  # same port
    await eventually(lambda: not backend.degraded)
    assert cache.stats()["backend"]["pending_invalidations"] == 0
    outage_lines = [r for r in caplog.records if "unavailable" in r.getMessage()]
    back_lines = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(outage_lines) == 1  # logged once per outage, not per request
    assert len(back_lines) == 1

    await registry.invoke("price", {"sku": "e"})  # written through to L2 again
    await cache.put("deg:after", "v", ttl=30)
    other = _cache(l2_server.url)  # another node finds both in L2
    try:
        assert (await other.get("deg:after")).value == "v"  # type: ignore[union-attr]
        assert (await other.get(_price_key(cache, "e"))) is not None
    finally:
        await other.aclose()
    await registry.aclose()
    await cache.aclose()


def _price_key(cache: ResultCache, sku: str) -> str:
    return tool_key(cache.namespace, "price", canonical_json({"sku": sku}))


async def test_slow_l2_counts_as_an_outage(l2_server: L2Server) -> None:
    """An L2 that stops answering (a TCP proxy that hangs: no time-bound pause that a
    loaded machine could outlast) flips the cache to degraded after ``op_timeout``; the
    value is computed and served; once L2 answers again the cache recovers. The default
    ``op_timeout`` (2 s) is kept: the stall is endless, so any bound detects it, while a
    short one (0.1 s) made every recovery probe time out on a loaded machine and the
    test hung."""
    async with TcpProxy(l2_server.port) as proxy:
        cache = _cache(_url(l2_server, proxy.port))
        backend = cache.backend
        assert isinstance(backend, TwoLevelBackend)
        try:
            await proxy.hang()  # every command stalls until the proxy is up again

            async def compute() -> object:
                return Outcome("computed")

            got = await cache.get_or_compute("deg:k", compute, ttl=30)
            assert got.value == "computed"
            assert backend.degraded  # the stall cannot end by itself
            assert cache.stats()["backend"]["outages"] == 1
            await proxy.up()
            await eventually(lambda: not backend.degraded)  # recovers once L2 answers
            assert cache.stats()["backend"]["outages"] == 1
            await cache.put("deg:k2", "after", ttl=30)  # L2 is written again
            assert (await backend.l2.get("deg:k2")).value == "after"  # type: ignore[union-attr]
        finally:
            await cache.aclose()


async def test_l2_down_from_the_start_and_close_leaves_no_probe(l2_server: L2Server) -> None:
    await asyncio.to_thread(l2_server.stop)
    cache = _cache(l2_server.url)

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
