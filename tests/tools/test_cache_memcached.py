"""MemcachedBackend against a real memcached: round trips, key hashing, tags, the item size
limit, damaged values, and the two-level cache's degradation and recovery over it."""

from __future__ import annotations

import asyncio
import logging
import time

import emcache
import pytest

from agentrt._configfile import build
from agentrt.errors import ConfigError
from agentrt.runtime import CacheConfig
from agentrt.runtime._resources import open_tools
from agentrt.testing import MemcachedServer
from agentrt.tools import (
    CacheValueTooLarge,
    Entry,
    MemcachedBackend,
    MemcachedCacheConfig,
    MemoryBackend,
    ResultCache,
    TwoLevelBackend,
    TwoLevelConfig,
)
from agentrt.tools.cache._memcached_backend import memcached_key

FAST_PROBE = TwoLevelConfig(probe_initial=0.02, probe_max=0.1)


def backend(url: str, prefix: str = "", **kwargs: object) -> MemcachedBackend:
    return MemcachedBackend(MemcachedCacheConfig(url=url, key_prefix=prefix, **kwargs))  # type: ignore[arg-type]


def entry(value: object, ttl: float = 60.0, tags: tuple[str, ...] = ()) -> Entry:
    return Entry(value=value, stored_at=time.time(), ttl=ttl, tags=tags)


async def raw_client(url: str) -> emcache.Client:
    host, port = MemcachedCacheConfig(url=url).address
    return await emcache.create_client([emcache.MemcachedHostAddress(host, port)], timeout=5.0)


async def test_round_trip_delete_and_expiry(memcached_url: str, memcached_prefix: str) -> None:
    b = backend(memcached_url, memcached_prefix)
    try:
        await b.set("k", entry({"temp": 18, "list": [1, 2]}))
        got = await b.get("k")
        assert got is not None
        assert got.value == {"temp": 18, "list": [1, 2]}
        assert await b.get("absent") is None
        assert await b.delete("k") is True
        assert await b.delete("k") is False
        assert await b.get("k") is None
        # memcached keeps whole seconds: an entry past its own TTL is a miss already
        await b.set("old", Entry(value=1, stored_at=time.time() - 100, ttl=30))
        assert await b.get("old") is None
        big = "x" * 5000  # compressed by the codec, read back whole
        await b.set("big", entry(big))
        assert (await b.get("big")).value == big  # type: ignore[union-attr]
    finally:
        await b.aclose()


@pytest.mark.parametrize(
    "key",
    ["k" * 300, "with space", "tab\there", "new\nline", "ctrl\x01", "ünïcode", "é" * 200],
)
async def test_keys_memcached_refuses_are_hashed(
    memcached_url: str, memcached_prefix: str, key: str
) -> None:
    stored = memcached_key(memcached_prefix, "k", key)
    assert len(stored) <= 250
    assert all(0x21 <= c <= 0x7E for c in stored)
    b = backend(memcached_url, memcached_prefix)
    try:
        await b.set(key, entry(key))
        got = await b.get(key)
        assert got is not None
        assert got.value == key
        raw = await raw_client(memcached_url)
        try:
            assert (await raw.get(stored)) is not None  # it is where the hash says
        finally:
            await raw.close()
    finally:
        await b.aclose()


def test_key_mapping_is_readable_when_it_can_be_and_never_collides() -> None:
    assert memcached_key("p:", "k", "ns:tool:w:abc") == b"p:k:ns:tool:w:abc"
    long_a, long_b = "a" * 300, "a" * 299 + "b"
    assert memcached_key("", "k", long_a) != memcached_key("", "k", long_b)
    hashed = memcached_key("", "k", "with space")
    assert hashed.startswith(b"hk:")
    # a readable key spelling out a hashed form cannot land on it: different namespace
    assert memcached_key("", "k", hashed.decode()[3:]) != hashed
    assert memcached_key("", "t", "x") != memcached_key("", "k", "x")


async def test_tags_invalidate_every_member(memcached_url: str, memcached_prefix: str) -> None:
    b = backend(memcached_url, memcached_prefix)
    try:
        await b.set("a", entry(1, tags=("t1",)))
        await b.set("b", entry(2, tags=("t1", "t2")))
        await b.set("c", entry(3, tags=("t2",)))
        assert (await b.get("b")).value == 2  # type: ignore[union-attr]
        assert await b.invalidate_tag("t1") == 1
        assert await b.get("a") is None
        assert await b.get("b") is None
        assert (await b.get("c")).value == 3  # type: ignore[union-attr]
        assert b.stats()["stale_reads"] == 2
        assert await b.invalidate_tag("never-used") == 0
        await b.set("a", entry(10, tags=("t1",)))  # written after: current again
        assert (await b.get("a")).value == 10  # type: ignore[union-attr]
    finally:
        await b.aclose()


async def test_an_evicted_tag_counter_makes_its_entries_misses(
    memcached_url: str, memcached_prefix: str
) -> None:
    b = backend(memcached_url, memcached_prefix)
    raw = await raw_client(memcached_url)
    try:
        await b.set("a", entry(1, tags=("t",)))
        await raw.delete(memcached_key(memcached_prefix, "t", "t"))  # as if evicted
        assert await b.get("a") is None
        await b.set("a", entry(2, tags=("t",)))  # a new counter: cached again
        assert (await b.get("a")).value == 2  # type: ignore[union-attr]
    finally:
        await raw.close()
        await b.aclose()


async def test_values_over_the_item_limit_are_refused_clearly(
    memcached_url: str, memcached_prefix: str
) -> None:
    b = backend(memcached_url, memcached_prefix, compress_threshold=1 << 30)
    try:
        with pytest.raises(CacheValueTooLarge) as info:
            await b.set("huge", entry("x" * (2 << 20)))
        assert info.value.limit == 1 << 20
        assert info.value.size > 2 << 20
        assert "over the item limit" in str(info.value)
        assert "'huge'" in str(info.value)
        assert b.stats()["too_large"] == 1
        assert await b.get("huge") is None
    finally:
        await b.aclose()


async def test_a_server_with_a_smaller_item_limit_is_reported_the_same_way() -> None:
    with MemcachedServer(max_item_bytes=64 * 1024) as server:
        b = backend(server.url, compress_threshold=1 << 30)
        try:
            with pytest.raises(CacheValueTooLarge):
                await b.set("k", entry("x" * (200 * 1024)))
            await b.set("small", entry("fits"))
            assert (await b.get("small")).value == "fits"  # type: ignore[union-attr]
        finally:
            await b.aclose()


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"garbage",
        b"\x4d\x00\x05" + b"\x00" * 8,
        b"\x4d\x00\x00\x07junk",
        b"\x4d\x00\x00\x01\xc1",
    ],
)
async def test_damaged_values_are_a_logged_miss_and_deleted(
    memcached_url: str, memcached_prefix: str, blob: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agentrt.tools.cache.memcached_backend")
    b = backend(memcached_url, memcached_prefix)
    raw = await raw_client(memcached_url)
    stored = memcached_key(memcached_prefix, "k", "bad")
    try:
        await raw.set(stored, blob, exptime=60)
        assert await b.get("bad") is None
        assert b.stats()["decode_errors"] == 1
        assert any("undecodable" in r.getMessage() for r in caplog.records)
        assert await raw.get(stored) is None  # quarantined: deleted
    finally:
        await raw.close()
        await b.aclose()


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("url", "redis://127.0.0.1:6379/0"),
        ("url", "memcached://"),
        ("url", "memcached://host:99999"),
        ("url", "memcached://user:s3cret@host:11211"),
        ("url", "memcached://host:11211/db"),
        ("op_timeout", 0),
        ("op_timeout", float("nan")),
        ("max_connections", 0),
        ("max_item_bytes", True),
        ("key_prefix", "has space"),
        ("key_prefix", "p" * 101),
    ],
)
def test_config_names_the_bad_field(field: str, bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        MemcachedCacheConfig(**{field: bad})  # type: ignore[arg-type]
    assert field in str(info.value)
    assert "s3cret" not in str(info.value)


def test_config_defaults_and_toml() -> None:
    cfg = MemcachedCacheConfig()
    assert cfg.address == ("127.0.0.1", 11211)
    assert MemcachedCacheConfig(url="memcached://cache.internal").address == (
        "cache.internal",
        11211,
    )
    cache = build(
        CacheConfig,
        {"kind": "two_level", "l2": "memcached", "memcached": {"url": "memcached://h:1234"}},
    )
    assert cache.memcached.address == ("h", 1234)
    with pytest.raises(ConfigError, match="l2"):
        build(CacheConfig, {"l2": "mongodb"})


async def test_a_down_server_raises_backend_errors() -> None:
    with MemcachedServer() as server:
        url = server.url
    b = backend(url, op_timeout=0.2)
    from agentrt.tools import CacheBackendError

    try:
        with pytest.raises(CacheBackendError, match="memcached"):
            await b.get("k")
        with pytest.raises(CacheBackendError):
            await b.ping()
        assert b.stats()["errors"] == 2
    finally:
        await b.aclose()


async def test_two_level_over_memcached_does_not_broadcast(
    memcached_url: str, memcached_prefix: str
) -> None:
    """Outage and recovery over memcached: tests/tools/test_degradation.py (both L2s)."""
    two = TwoLevelBackend(MemoryBackend(), backend(memcached_url, memcached_prefix), FAST_PROBE)
    try:
        await two.set("k", entry(1, tags=("t",)))
        assert two.stats()["broadcast"] is False  # memcached carries no messages
        assert await two.invalidate_tag("t") == 1
        assert await two.get("k") is None
        assert await two.l2.get("k") is None  # L2 invalidated at once
    finally:
        await two.aclose()


async def test_two_level_keeps_a_too_large_value_in_memory_without_degrading(
    memcached_url: str, memcached_prefix: str
) -> None:
    l2 = backend(memcached_url, memcached_prefix, compress_threshold=1 << 30)
    two = TwoLevelBackend(MemoryBackend(), l2, FAST_PROBE)
    cache = ResultCache(two, namespace="mc")
    try:
        await cache.put("huge", "x" * (2 << 20), ttl=30)
        assert not two.degraded
        assert two.stats()["l2_refused"] == 1
        assert (await cache.get("huge")).value == "x" * (2 << 20)  # type: ignore[union-attr]
        assert await l2.get("huge") is None
    finally:
        await cache.aclose()


async def test_runtime_config_builds_memcached_levels(
    memcached_url: str, memcached_prefix: str
) -> None:
    from agentrt.actor import Node

    mc = MemcachedCacheConfig(url=memcached_url, key_prefix=memcached_prefix)
    async with Node() as node:
        for config, want in (
            (CacheConfig(kind="memcached", memcached=mc), MemcachedBackend),
            (CacheConfig(kind="two_level", l2="memcached", memcached=mc), TwoLevelBackend),
        ):
            registry = await open_tools(config, [], node)
            assert registry.cache is not None
            assert isinstance(registry.cache.backend, want)
            if isinstance(registry.cache.backend, TwoLevelBackend):
                assert isinstance(registry.cache.backend.l2, MemcachedBackend)
            await registry.aclose()
            await registry.cache.aclose()


async def test_close_leaves_no_task(memcached_url: str, memcached_prefix: str) -> None:
    b = backend(memcached_url, memcached_prefix)
    await b.set("k", entry(1))
    await b.aclose()
    await b.aclose()  # idempotent
    me = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not me and not t.done()] == []
    from agentrt.errors import NotRunning

    with pytest.raises(NotRunning):
        await b.get("k")
