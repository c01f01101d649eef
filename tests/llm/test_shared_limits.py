"""Cluster-wide LLM limits (``SharedLimits``): the Lua script on a real Redis, the lease,
damaged keys, 429 pauses across pools, and the fallback to R/N while Redis is down."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis

from agentrt.errors import ConfigError
from agentrt.llm import (
    SHARED_LIMIT_FALLBACK_EVENT,
    SHARED_LIMIT_RESTORED_EVENT,
    LimitStateDamaged,
    LLMPool,
    MockLLMServer,
    PoolConfig,
    RateLimited,
    SharedLimits,
)
from agentrt.llm._sharedlimit import ACQUIRE_SCRIPT, SharedRateLimiter, limit_keys
from agentrt.telemetry import Events
from agentrt.testing import RedisServer
from agentrt.testing._server_process import free_port
from tests.llm.conftest import ask, provider


@pytest.fixture
async def client(redis_url: str) -> Any:
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield redis
    await redis.aclose()


def _limits(url: str, prefix: str, **kwargs: Any) -> SharedLimits:
    return SharedLimits(url=url, cluster="t", key_prefix=prefix, **kwargs)


async def _script(client: Any, keys: tuple[str, ...], *argv: Any) -> list[str]:
    return list(await client.eval(ACQUIRE_SCRIPT, 3, *keys, *argv))


# -- the Lua script --------------------------------------------------------------------------


async def test_script_takes_a_lease_from_a_fresh_full_bucket(client: Any, redis_prefix: str):
    keys = (redis_prefix + "rpm", redis_prefix + "tpm", redis_prefix + "pauses")
    # rate 10/s, capacity 20: need 1, want a lease of 5
    reply = await _script(client, keys, 10, 20, 1, 5, 0, 0, 0, 0)
    assert [float(v) for v in reply[:3]] == [5, 0, 0]
    assert float(await client.hget(keys[0], "level")) == pytest.approx(15, abs=0.1)
    assert await client.exists(keys[1]) == 0  # rate 0: that bucket is not used
    assert 0 < await client.pttl(keys[0]) <= 20 / 10 * 1000 + 1000 + 1


async def test_script_grants_at_most_the_level_and_at_least_the_need(
    client: Any, redis_prefix: str
):
    keys = (redis_prefix + "rpm", redis_prefix + "tpm", redis_prefix + "pauses")
    reply = await _script(client, keys, 0.001, 3, 2, 100, 0, 0, 0, 0)
    assert float(reply[0]) == 3  # the whole level, not the 100 wanted
    reply = await _script(client, keys, 0.001, 3, 1, 1, 0, 0, 0, 0)
    assert float(reply[0]) == 0  # empty: nothing taken ...
    assert float(reply[2]) > 900  # ... and the wait: ~1 unit / 0.001 per second


async def test_script_refills_by_server_time(client: Any, redis_prefix: str):
    keys = (redis_prefix + "rpm", redis_prefix + "tpm", redis_prefix + "pauses")
    (seconds, micros) = await client.time()
    now = seconds + micros / 1e6
    await client.hset(keys[0], mapping={"level": "0", "stamp": str(now - 2.0)})
    reply = await _script(client, keys, 1.5, 10, 1, 1, 0, 0, 0, 0)  # 2 s at 1.5/s: 3
    assert float(reply[0]) == 1
    assert float(await client.hget(keys[0], "level")) == pytest.approx(2.0, abs=0.1)
    await client.hset(keys[0], mapping={"level": "0", "stamp": str(now - 3600)})
    await _script(client, keys, 1.5, 10, 0, 0, 0, 0, 0, 0)
    assert float(await client.hget(keys[0], "level")) == pytest.approx(10.0)  # capped


async def test_script_needs_both_buckets_or_takes_nothing(client: Any, redis_prefix: str):
    keys = (redis_prefix + "rpm", redis_prefix + "tpm", redis_prefix + "pauses")
    reply = await _script(client, keys, 10, 10, 1, 1, 100, 500, 400, 400)
    assert [float(v) for v in reply[:3]] == [1, 400, 0]
    reply = await _script(client, keys, 10, 10, 1, 1, 100, 500, 400, 400)
    assert float(reply[0]) == 0  # the request bucket had one: not taken without tokens
    assert float(reply[1]) == 0
    assert float(reply[2]) == pytest.approx(3.0, abs=0.05)  # (400 - ~100) / 100 per second
    assert float(await client.hget(keys[0], "level")) == pytest.approx(9, abs=0.1)
    reply = await _script(client, keys, 10, 10, 1, 1, 100, 500, 900, 900)
    assert float(reply[2]) == pytest.approx(4.0, abs=0.05)  # over capacity: a full bucket
    await client.hset(keys[1], mapping={"level": "500"})
    reply = await _script(client, keys, 10, 10, 1, 1, 100, 500, 900, 900)
    assert float(reply[1]) == 900  # granted in full from a full bucket: the rest is debt
    assert float(await client.hget(keys[1], "level")) == pytest.approx(-400, abs=1)


async def test_script_publishes_and_returns_pauses(client: Any, redis_prefix: str):
    keys = (redis_prefix + "rpm", redis_prefix + "tpm", redis_prefix + "pauses")
    await _script(client, keys, 10, 10, 0, 0, 0, 0, 0, 0, "gpt-x", 5000)
    (seconds, _) = await client.time()
    await client.hset(keys[2], "old", str((seconds - 1) * 1000))  # ended a second ago
    reply = await _script(client, keys, 10, 10, 0, 0, 0, 0, 0, 0, "gpt-x", 10)
    pauses = dict(zip(reply[3::2], (float(v) for v in reply[4::2]), strict=True))
    assert set(pauses) == {"gpt-x"}  # "old" is over: dropped
    assert await client.hexists(keys[2], "old") == 0
    assert 4000 < pauses["gpt-x"] <= 5000  # the longer pause stays
    assert 4000 < await client.pttl(keys[2]) <= 5000


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        (lambda c, k: c.set(k, "garbage"), "is a string, not a hash"),
        (lambda c, k: c.hset(k, mapping={"level": "x", "stamp": "1"}), "not finite numbers"),
        (lambda c, k: c.hset(k, mapping={"level": "1"}), "missing"),
    ],
)
async def test_a_damaged_bucket_is_an_error_naming_the_key(
    client: Any, redis_url: str, redis_prefix: str, setup: Any, problem: str
):
    limits = _limits(redis_url, redis_prefix)
    rpm_key = limit_keys(limits, "p")[0]
    await setup(client, rpm_key)
    before = await client.dump(rpm_key)
    limiter = SharedRateLimiter("p", rpm=600, limits=limits)
    try:
        with pytest.raises(LimitStateDamaged) as caught:
            await limiter.acquire(1, None)
    finally:
        await limiter.aclose()
    assert caught.value.key == rpm_key
    assert problem in caught.value.problem
    assert rpm_key in str(caught.value)
    assert await client.dump(rpm_key) == before  # never overwritten


async def test_a_damaged_pause_is_an_error_naming_the_key(
    client: Any, redis_url: str, redis_prefix: str
):
    limits = _limits(redis_url, redis_prefix)
    pauses_key = limit_keys(limits, "p")[2]
    await client.hset(pauses_key, "m", "soon")
    limiter = SharedRateLimiter("p", rpm=600, limits=limits)
    try:
        with pytest.raises(LimitStateDamaged, match="pause of m") as caught:
            await limiter.acquire(1, None)
    finally:
        await limiter.aclose()
    assert caught.value.key == pauses_key
    assert await client.hget(pauses_key, "m") == "soon"


# -- the limiter -----------------------------------------------------------------------------


async def test_the_lease_spares_the_round_trip(client: Any, redis_url: str, redis_prefix: str):
    # 60/s split by 2 nodes over 0.5 s: a lease of 15 requests
    limits = _limits(redis_url, redis_prefix, nodes=2, lease_s=0.5, burst_s=10)
    limiter = SharedRateLimiter("p", rpm=3600, tpm=0, limits=limits)
    try:
        for _ in range(30):
            await limiter.acquire(1, None)
        assert limiter.renewals == 2
        stats = limiter.stats()
        assert stats["mode"] == "shared"
        assert stats["leased_requests"] == 0
        level = float(await client.hget(limit_keys(limits, "p")[0], "level"))
        assert level == pytest.approx(600 - 30, abs=1)  # 10 s x 60/s, 30 taken
    finally:
        await limiter.aclose()


async def test_tokens_reconcile_into_the_lease(redis_url: str, redis_prefix: str):
    limits = _limits(redis_url, redis_prefix, lease_s=1.0)
    limiter = SharedRateLimiter("p", tpm=6000, limits=limits)  # 100 tokens/s, lease 100
    try:
        await limiter.acquire(40, None)
        assert limiter.stats()["leased_tokens"] == 60
        limiter.reconcile(estimated=40, actual=140)  # the provider counted more: debt
        assert limiter.stats()["leased_tokens"] == -40
        await limiter.acquire(10, None)  # the debt is paid from the next renewal
        assert limiter.stats()["leased_tokens"] >= 0
        assert limiter.renewals >= 2
    finally:
        await limiter.aclose()


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"shared_limits\.nodes"):
        SharedLimits(nodes=0)
    with pytest.raises(ConfigError, match=r"shared_limits\.url"):
        SharedLimits(url="http://x")
    with pytest.raises(ConfigError, match=r"shared_limits\.lease_s"):
        SharedLimits(lease_s=0)
    with pytest.raises(ConfigError, match=r"shared_limits\.burst_s"):
        SharedLimits(burst_s=float("inf"))
    with pytest.raises(ConfigError, match=r"shared_limits\.cluster"):
        SharedLimits(cluster=" ")
    with pytest.raises(ConfigError, match="shared_limits"):
        PoolConfig(shared_limits="redis://x")  # type: ignore[arg-type]
    assert "hunter2" not in repr(SharedLimits(url="redis://:hunter2@h:6379/0"))


# -- through the pool ------------------------------------------------------------------------


async def test_a_429_on_one_pool_pauses_the_other(
    server: MockLLMServer, redis_url: str, redis_prefix: str
):
    limits = _limits(redis_url, redis_prefix, lease_s=0.01)  # a lease of one request
    config = PoolConfig(providers=(provider(server.url, rpm=6000),), shared_limits=limits)
    async with LLMPool(config) as first, LLMPool(config) as second:
        await second.chat(ask("warm"), deadline=None)
        server.state.fail_next.append(429)  # Retry-After: 1 s (the mock's default)
        with pytest.raises(RateLimited):  # the first pool sees the 429 ...
            await first.chat(ask("a"), deadline=_soon(0.3))
        seen = server.state.counts["http"]
        with pytest.raises(RateLimited, match="paused"):  # ... the second waits, sends nothing
            await second.chat(ask("b"), deadline=_soon(0.3))
        assert server.state.counts["http"] == seen
        assert second.stats()["providers"]["mock"]["rate_limit"]["paused_models"] == 1


def _soon(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_redis_down_falls_back_to_the_node_share_and_comes_back(
    server: MockLLMServer, caplog: pytest.LogCaptureFixture
):
    redis = RedisServer(port=free_port())  # not started yet: nothing listens there
    events = Events()
    seen: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    for name in (SHARED_LIMIT_FALLBACK_EVENT, SHARED_LIMIT_RESTORED_EVENT):
        events.attach(f"t-{name[-1]}", name, lambda n, m, meta, _: seen.append((n, dict(m))))
    limits = SharedLimits(url=redis.url, cluster="t", nodes=3, retry_s=0.05, burst_s=1.0)
    # 600 rpm, this node's share 200 rpm: a bucket of 3.3, refilled at 3.3/s, so 10
    # requests wait unless they took over 2 s (at 3000 rpm, 20 requests of 10 ms each on a
    # loaded machine were refilled as fast as they went, and nothing waited)
    config = PoolConfig(providers=(provider(server.url, rpm=600),), shared_limits=limits)
    caplog.set_level(logging.WARNING, "agentrt.llm.limits")
    try:
        async with LLMPool(config, events=events) as pool:
            for n in range(10):
                await pool.chat(ask(f"q{n}"), deadline=None)
            stats = pool.stats()["providers"]["mock"]["rate_limit"]
            assert stats["mode"] == "fallback"
            assert stats["outages"] == 1
            # this node's share: 600 / 3 rpm, a bucket of one second of it (~3.3), not the
            # whole limit's (10)
            assert stats["requests_available"] < 600 / 60 / 2
            assert stats["fallback_acquires"] >= 1
            assert stats["waits"] >= 1
            assert [n for n, _ in seen] == [SHARED_LIMIT_FALLBACK_EVENT]  # once per outage
            assert sum("unreachable" in r.message for r in caplog.records) == 1
            redis.start()
            await asyncio.sleep(0.06)  # past retry_s: the next acquire tries Redis
            await pool.chat(ask("back"), deadline=None)
            stats = pool.stats()["providers"]["mock"]["rate_limit"]
            assert stats["mode"] == "shared"
            assert stats["renewals"] >= 1
            assert [n for n, _ in seen][-1] == SHARED_LIMIT_RESTORED_EVENT
    finally:
        redis.close()
