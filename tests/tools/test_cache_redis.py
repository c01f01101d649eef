from __future__ import annotations

import pickle
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from support.waiting import eventually

from agentrt.errors import ConfigError
from agentrt.tools import (
    CachePolicy,
    Entry,
    MemoryBackend,
    Outcome,
    RedisBackend,
    RedisCacheConfig,
    ResultCache,
    ToolPolicy,
    ToolRegistry,
    TwoLevelBackend,
    tool,
)


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def backend(url: str, prefix: str, **kwargs: object) -> RedisBackend:
    """A backend whose timeouts (default 0.2 s) a loaded machine's round trip cannot reach:
    these tests are about what is stored, not about how fast."""
    kwargs = {"op_timeout": 5.0, "connect_timeout": 5.0, **kwargs}
    return RedisBackend(RedisCacheConfig(url=url, key_prefix=prefix, **kwargs))  # type: ignore[arg-type]


async def test_roundtrip_with_server_side_ttl(
    redis_url: str, redis_prefix: str, raw: aioredis.Redis
) -> None:
    b = backend(redis_url, redis_prefix)
    await b.set("k", Entry({"rows": [1, 2]}, time.time(), 30.0, tags=("tool:q",)))
    got = await b.get("k")
    assert got is not None
    assert got.value == {"rows": [1, 2]}
    assert got.tags == ("tool:q",)
    assert 0 < await raw.pttl(redis_prefix + "k") <= 30_000
    assert 0 < await raw.pttl(redis_prefix + "tag:tool:q") <= 30_000
    assert (await raw.get(redis_prefix + "k"))[0] == 0x01  # format byte
    assert await b.get("missing") is None
    await b.aclose()


async def test_large_values_are_compressed(
    redis_url: str, redis_prefix: str, raw: aioredis.Redis
) -> None:
    b = backend(redis_url, redis_prefix, compress_threshold=512)
    text = "the same sentence again. " * 400
    await b.set("big", Entry(text, time.time(), 30.0))
    stored = await raw.get(redis_prefix + "big")
    assert stored[0] == 0x02
    assert len(stored) < len(text) // 5
    assert (await b.get("big")).value == text  # type: ignore[union-attr]
    await b.aclose()


async def test_tag_ttl_follows_the_longest_member(
    redis_url: str, redis_prefix: str, raw: aioredis.Redis
) -> None:
    b = backend(redis_url, redis_prefix)
    await b.set("long", Entry(1, time.time(), 100.0, tags=("t",)))
    await b.set("short", Entry(2, time.time(), 5.0, tags=("t",)))
    assert await raw.pttl(redis_prefix + "tag:t") > 50_000
    assert await b.invalidate_tag("t") == 2
    assert await raw.exists(redis_prefix + "long", redis_prefix + "tag:t") == 0
    await b.aclose()


@pytest.mark.parametrize(
    "poison",
    [b"\x07unknown format", b"\x01\xc1garbage", pickle.dumps({"evil": True}), b""],
)
async def test_poisoned_values_are_dropped_never_unpickled(
    redis_url: str, redis_prefix: str, raw: aioredis.Redis, poison: bytes
) -> None:
    b = backend(redis_url, redis_prefix)
    await raw.set(redis_prefix + "bad", poison)
    assert await b.get("bad") is None
    assert b.stats()["decode_errors"] == 1
    assert await raw.exists(redis_prefix + "bad") == 0
    await b.aclose()


def test_password_never_in_repr() -> None:
    config = RedisCacheConfig(url="rediss://user:s3cret@cache.internal:6380/0")
    assert "s3cret" not in repr(config)
    assert "s3cret" not in repr(RedisBackend(config))
    with pytest.raises(ConfigError, match="url"):
        RedisCacheConfig(url="http://nope")
    with pytest.raises(ConfigError, match="op_timeout"):
        RedisCacheConfig(op_timeout=0)


async def test_bare_redis_backend_failures_are_misses_not_errors() -> None:
    dead = RedisBackend(RedisCacheConfig(url="redis://127.0.0.1:1/0", op_timeout=0.2))
    cache = ResultCache(dead, namespace="t")
    runs: list[int] = []

    async def compute() -> Outcome:
        runs.append(1)
        return Outcome("fresh")

    first = await cache.get_or_compute("k", compute, ttl=5)
    assert first.value == "fresh"
    assert await cache.invalidate_tool("x") == 0
    assert cache.stats()["backend_errors"] >= 3  # get, recheck, set...
    await cache.aclose()


def _two_level(url: str, prefix: str) -> ResultCache:
    return ResultCache(TwoLevelBackend(MemoryBackend(), backend(url, prefix)), namespace="ns")


async def test_two_nodes_share_results_but_not_private_ones(
    redis_url: str, redis_prefix: str
) -> None:
    runs: list[str] = []

    def make_tool() -> object:
        @tool(policy=ToolPolicy(cache=CachePolicy(scope="agent", ttl=60)))
        async def inbox(folder: str) -> list[str]:
            runs.append(folder)
            return [f"mail in {folder}"]

        return inbox

    node_a, node_b = _two_level(redis_url, redis_prefix), _two_level(redis_url, redis_prefix)
    reg_a = ToolRegistry([make_tool()], cache=node_a)  # type: ignore[list-item]
    reg_b = ToolRegistry([make_tool()], cache=node_b)  # type: ignore[list-item]
    alice_a = await reg_a.invoke("inbox", {"folder": "x"}, agent_id="alice")
    alice_b = await reg_b.invoke("inbox", {"folder": "x"}, agent_id="alice")
    mallory_b = await reg_b.invoke("inbox", {"folder": "x"}, agent_id="mallory")
    assert not alice_a.cached
    assert alice_b.cached  # served from Redis (L2) on the other node
    assert not mallory_b.cached  # another agent never reads alice's result
    assert runs == ["x", "x"]
    assert node_b.backend.stats()["l2_hits"] == 1
    for c in (node_a, node_b):
        await c.aclose()
    await reg_a.aclose()
    await reg_b.aclose()


@pytest.mark.parametrize("how", ["key", "tool", "tag"])
async def test_invalidation_reaches_both_levels_and_other_nodes(
    redis_url: str, redis_prefix: str, how: str
) -> None:
    node_a, node_b = _two_level(redis_url, redis_prefix), _two_level(redis_url, redis_prefix)
    version = [0]

    async def compute() -> Outcome:
        version[0] += 1
        return Outcome(version[0])

    kwargs = {"ttl": 60.0, "tags": ("tool:search", "catalog")}
    assert [await n.start(timeout=30.0) for n in (node_a, node_b)] == [True, True]
    assert (await node_a.get_or_compute("ns:k", compute, **kwargs)).value == 1  # type: ignore[arg-type]
    assert (await node_b.get_or_compute("ns:k", compute, **kwargs)).value == 1  # type: ignore[arg-type]
    if how == "key":
        assert await node_a.invalidate("ns:k") is True
    elif how == "tool":
        assert await node_a.invalidate_tool("search") >= 1
    else:
        assert await node_a.invalidate_tag("catalog") >= 1
    b_backend = node_b.backend
    assert isinstance(b_backend, TwoLevelBackend)
    await eventually(lambda: b_backend.l1.get_nowait("ns:k") is None)  # broadcast to node b
    assert (await node_b.get_or_compute("ns:k", compute, **kwargs)).value == 2  # type: ignore[arg-type]
    assert (await node_a.get_or_compute("ns:k", compute, **kwargs)).value == 2  # type: ignore[arg-type]
    for c in (node_a, node_b):
        await c.aclose()


@pytest.mark.parametrize("how", ["key", "tag"])
async def test_invalidation_is_broadcast_to_other_nodes_l1(
    redis_url: str, redis_prefix: str, how: str
) -> None:
    node_a, node_b = _two_level(redis_url, redis_prefix), _two_level(redis_url, redis_prefix)
    b_backend = node_b.backend
    assert isinstance(b_backend, TwoLevelBackend)

    async def compute() -> Outcome:
        return Outcome("v")

    for node in (node_a, node_b):
        assert await node.start(timeout=30.0)
        await node.get_or_compute("ns:k", compute, ttl=60.0, tags=("catalog",))
    assert b_backend.peek("ns:k") is not None
    if how == "key":
        await node_a.invalidate("ns:k")
    else:
        await node_a.invalidate_tag("catalog")
    await eventually(lambda: b_backend.l1.get_nowait("ns:k") is None)
    assert b_backend.stats()["remote_invalidations"] == 1
    for c in (node_a, node_b):
        await c.aclose()
