"""Semantic entries shared between two nodes (two pools) through a real Redis, over real
HTTP to the mock LLM server (deterministic hash embeddings: a repeated question is
similarity 1.0): another node's entry hits, invalidation and expiry hold across nodes,
damaged entries are skipped with an event, and a Redis that goes down (a TCP proxy cut)
leaves a node on its own entries without failing a request."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis
from support.clock import FakeClock
from support.tcpproxy import TcpProxy

from agentrt.errors import ConfigError
from agentrt.llm import (
    SEMANTIC_DAMAGED_EVENT,
    LLMPool,
    MockLLMServer,
    MockServerConfig,
    PoolConfig,
    ResponseCachePolicy,
    SemanticCachePolicy,
    SemanticShare,
    serve_mock_llm,
)
from agentrt.llm._semkey import semantic_context_key
from agentrt.llm._semshare import decode_entry, encode_entry
from agentrt.runtime import CacheConfig
from agentrt.runtime._resources import close_quietly, open_llm
from agentrt.telemetry import Events, Telemetry
from agentrt.tools import LLMResponseCache, RedisBackend, RedisCacheConfig, ResultCache
from agentrt.tools.cache import RedisSemanticStore

from .conftest import ask, provider

DIM = 64
FAQ = SemanticCachePolicy(enabled=True, embedding_model="mock-embed", tags=("faq",))
POLICY = ResponseCachePolicy(semantic=FAQ)


@pytest.fixture
async def server() -> AsyncIterator[MockLLMServer]:
    async with serve_mock_llm(MockServerConfig(embedding_dim=DIM)) as running:
        yield running


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@asynccontextmanager
async def node(
    server: MockLLMServer,
    url: str,
    prefix: str,
    *,
    clock: Callable[[], float] | None = None,
    wall: Callable[[], float] = time.time,
    events: Events | None = None,
    op_timeout: float = 5.0,
) -> AsyncIterator[LLMPool]:
    """One node: a pool whose exact-cache store and shared semantic entries are on the
    Redis at ``url`` (generous timeouts unless a test cuts the server)."""
    config = RedisCacheConfig(
        url=url, key_prefix=prefix, op_timeout=op_timeout, connect_timeout=op_timeout
    )
    store = LLMResponseCache(ResultCache(RedisBackend(config), namespace="ns"))
    share = SemanticShare(
        RedisSemanticStore(config, "ns"),
        store,
        events=events,
        clock=clock or FakeClock(),
        wall=wall,
    )
    pool = LLMPool(
        PoolConfig(providers=(provider(server.url),), response_cache=POLICY),
        response_cache=store,
        semantic_share=share,
        recorder=Telemetry(),
        events=events,
    )
    try:
        async with pool:
            yield pool
    finally:
        await share.aclose()
        await store.aclose()


def shared(pool: LLMPool) -> dict[str, Any]:
    stats: dict[str, Any] = pool.stats()["semantic_cache"]["shared"]
    return stats


def damage_events() -> tuple[Events, list[Mapping[str, Any]]]:
    """Events that keep the metadata of each SEMANTIC_DAMAGED_EVENT in the list."""
    events = Events()
    seen: list[Mapping[str, Any]] = []
    events.attach("t", SEMANTIC_DAMAGED_EVENT, lambda n, m, meta, s: seen.append(meta))
    return events, seen


def stream_key(prefix: str, question: str) -> str:
    context = semantic_context_key(ask(question, temperature=0), FAQ, None, None)
    return f"{prefix}ns:sem:{context}"


async def test_another_nodes_entry_hits_and_its_answer_comes_from_the_store(
    server: MockLLMServer, redis_url: str, redis_prefix: str, raw: aioredis.Redis
) -> None:
    async with (
        node(server, redis_url, redis_prefix) as a,
        node(server, redis_url, redis_prefix) as b,
    ):
        first = await a.chat(ask("What is the refund policy?", temperature=0))
        from_b = await b.chat(ask("What is the refund policy?", temperature=0), agent_id="b1")
        stats_b = b.stats()
    assert server.state.counts["chat"] == 1
    assert not first.cached
    assert from_b.cached
    assert from_b.content == first.content
    assert (from_b.cost, from_b.usage.total_tokens) == (0.0, 0)
    assert stats_b["semantic_cache"]["hits"] == 1
    assert stats_b["response_cache"]["semantic_hits"] == 1
    assert stats_b["semantic_cache"]["shared"]["loaded"] == 1
    # in Redis: one bounded list with a server-side TTL; its entry is msgpack, float32
    key = stream_key(redis_prefix, "What is the refund policy?")
    entries = [fields[b"e"] for _, fields in await raw.xrange(key)]
    assert len(entries) == 1
    assert 0 < await raw.pttl(key) <= FAQ.ttl_s * 1000
    entry, vector = decode_entry(entries[0], DIM)
    assert entry.k.startswith("sem:")
    assert entry.t == ("llm", "faq")
    assert vector.dtype.name == "float32"


async def test_a_context_loaded_recently_is_reloaded_only_after_refresh_s(
    server: MockLLMServer, redis_url: str, redis_prefix: str
) -> None:
    clock = FakeClock()
    async with (
        node(server, redis_url, redis_prefix) as a,
        node(server, redis_url, redis_prefix, clock=clock) as b,
    ):
        await b.chat(ask("x", temperature=0))  # loads the (empty) context
        await a.chat(ask("y", temperature=0))
        await b.chat(ask("z", temperature=0))  # loaded less than refresh_s ago: no load
        assert shared(b)["loads"] == 1
        clock.advance(b.semantic_share.refresh_s if b.semantic_share else 0)
        y = await b.chat(ask("y", temperature=0))
        assert shared(b)["loads"] == 2
    assert y.cached
    assert server.state.counts["chat"] == 3  # x, y (once), z


async def test_invalidation_on_one_node_holds_on_the_other(
    server: MockLLMServer, redis_url: str, redis_prefix: str, raw: aioredis.Redis
) -> None:
    clock_a = FakeClock()
    async with (
        node(server, redis_url, redis_prefix, clock=clock_a) as a,
        node(server, redis_url, redis_prefix) as b,
    ):
        await a.chat(ask("q", temperature=0))
        assert (await b.chat(ask("q", temperature=0))).cached
        assert await a.invalidate_cache_tag("faq") >= 1
        again = await b.chat(ask("q", temperature=0))  # b's loaded entry is stale now
        assert shared(b)["stale"] == 1
        clock_a.advance(shared(a)["refresh_s"])  # a reloads the context: b's fresh answer
        assert (await a.chat(ask("q", temperature=0))).cached
    assert not again.cached
    assert server.state.counts["chat"] == 2
    assert await raw.xlen(stream_key(redis_prefix, "q")) == 1  # the stale entry was removed


async def test_a_node_does_not_answer_from_its_own_copy_after_another_invalidated_it(
    server: MockLLMServer, redis_url: str, redis_prefix: str
) -> None:
    async with (
        node(server, redis_url, redis_prefix) as a,
        node(server, redis_url, redis_prefix) as b,
    ):
        await a.chat(ask("q", temperature=0))
        assert await b.invalidate_cache_tag("faq") == 1  # a's answer, in the shared store
        after = await a.chat(ask("q", temperature=0))
        assert (shared(a)["stale"], shared(a)["local_answers"]) == (1, 0)
    assert not after.cached
    assert server.state.counts["chat"] == 2


async def test_an_expired_entry_is_not_loaded(
    server: MockLLMServer, redis_url: str, redis_prefix: str
) -> None:
    later = FakeClock(time.time() + FAQ.ttl_s + 1)  # b's wall clock: past the entry's TTL
    async with (
        node(server, redis_url, redis_prefix) as a,
        node(server, redis_url, redis_prefix, wall=later) as b,
    ):
        await a.chat(ask("q", temperature=0))
        late = await b.chat(ask("q", temperature=0))
        assert (shared(b)["loads"], shared(b)["loaded"]) == (1, 0)
    assert not late.cached


async def test_damaged_entries_are_skipped_with_an_event(
    server: MockLLMServer, redis_url: str, redis_prefix: str, raw: aioredis.Redis
) -> None:
    events, seen = damage_events()
    clock = FakeClock()
    key = stream_key(redis_prefix, "q")
    future = time.time() + 600
    damaged = [
        b"\xc1 not msgpack",
        msgspec.msgpack.encode({"v": b"\x00" * 4, "k": "sem:x", "e": future}),  # 1 value
        encode_entry([float("nan")] * DIM, "sem:y", future, ()),
        msgspec.msgpack.encode({"k": "sem:z", "e": future}),  # no vector
        msgspec.msgpack.encode([1, 2, 3]),
    ]
    async with (
        node(server, redis_url, redis_prefix) as a,
        node(server, redis_url, redis_prefix, events=events, clock=clock) as b,
    ):
        first = await a.chat(ask("q", temperature=0))
        for blob in damaged:
            await raw.xadd(key, {"e": blob})
        await raw.xadd(key, {"x": b"no e field"})
        hit = await b.chat(ask("q", temperature=0))
        damaged_count = shared(b)["damaged"]
        clock.advance(shared(b)["refresh_s"])  # a reload reads only newer entries
        assert (await b.chat(ask("q", temperature=0))).cached
        assert (shared(b)["loads"], shared(b)["damaged"]) == (2, damaged_count)
    assert hit.cached
    assert hit.content == first.content
    assert damaged_count == len(damaged) + 1
    assert len(seen) == len(damaged) + 1
    assert all(meta["context"] == key.removeprefix(f"{redis_prefix}ns:sem:") for meta in seen)


async def test_an_answer_that_does_not_decode_is_a_miss(
    server: MockLLMServer, redis_url: str, redis_prefix: str, raw: aioredis.Redis
) -> None:
    events, seen = damage_events()
    async with (
        node(server, redis_url, redis_prefix) as a,
        node(server, redis_url, redis_prefix, events=events) as b,
    ):
        await a.chat(ask("q", temperature=0))
        key = stream_key(redis_prefix, "q")
        store = a.response_cache
        assert isinstance(store, LLMResponseCache)
        [(_, fields)] = await raw.xrange(key)
        entry, _ = decode_entry(fields[b"e"], DIM)
        await store.put(entry.k, {"not": "an answer"}, cost=0.0, ttl=60, tags=())
        answer = await b.chat(ask("q", temperature=0))
    assert not answer.cached
    assert len(seen) == 1
    assert "does not decode" in seen[0]["error"]
    assert server.state.counts["chat"] == 2


async def test_redis_down_leaves_a_node_on_its_own_entries(
    server: MockLLMServer, redis_url: str, redis_prefix: str
) -> None:
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    clock = FakeClock()
    async with TcpProxy(port) as proxy:
        proxied = f"redis://127.0.0.1:{proxy.port}/0"
        async with (
            node(server, redis_url, redis_prefix) as a,
            node(server, proxied, redis_prefix, clock=clock, op_timeout=1.0) as b,
        ):
            await b.chat(ask("mine", temperature=0))
            await a.chat(ask("theirs", temperature=0))
            await proxy.down()
            mine = await b.chat(ask("mine", temperature=0))  # b's own copy
            theirs = await b.chat(ask("theirs", temperature=0))  # not loaded: asked
            down = shared(b)
            await proxy.up()
            clock.advance(down["refresh_s"])
            await b.chat(ask("other", temperature=0))  # reloads the context
            again = await b.chat(ask("theirs", temperature=0))
    assert mine.cached
    assert not theirs.cached
    assert down["errors"] >= 1
    assert down["local_answers"] == 1
    assert again.cached
    assert server.state.counts["chat"] == 4  # mine, theirs (a), theirs (b, down), other


async def test_the_runtime_shares_entries_when_its_cache_is_on_redis(
    server: MockLLMServer, redis_url: str, redis_prefix: str
) -> None:
    redis = RedisCacheConfig(url=redis_url, key_prefix=redis_prefix, op_timeout=5.0)
    config = PoolConfig(providers=(provider(server.url),), response_cache=POLICY)
    two_level = CacheConfig(kind="two_level", redis=redis, namespace="rt")
    a = await open_llm(config, two_level)
    b = await open_llm(config, CacheConfig(kind="redis", redis=redis, namespace="rt"))
    alone = await open_llm(config, CacheConfig(kind="memory"))
    try:
        await a.chat(ask("q", temperature=0))
        from_b = await b.chat(ask("q", temperature=0))
        assert alone.semantic_share is None
        assert alone.stats()["semantic_cache"]["shared"] is None
    finally:
        for pool in (a, b, alone):
            await close_quietly(pool)
    assert from_b.cached
    assert server.state.counts["chat"] == 1


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"refresh_s": 0}, "refresh_s"),
        ({"refresh_s": "5"}, "refresh_s"),
        ({"max_contexts": 0}, "max_contexts"),
    ],
)
async def test_bad_share_settings_name_the_key(
    redis_url: str, kwargs: dict[str, Any], key: str
) -> None:
    entries = RedisSemanticStore(RedisCacheConfig(url=redis_url), "ns")
    store = LLMResponseCache()
    try:
        with pytest.raises(ConfigError) as info:
            SemanticShare(entries, store, **kwargs)
        assert info.value.key == key
        with pytest.raises(ConfigError) as info:
            RedisSemanticStore(RedisCacheConfig(url=redis_url), "ns", max_per_context=0)
        assert info.value.key == "max_per_context"
    finally:
        await entries.aclose()
        await store.aclose()


async def test_the_store_keeps_the_newest_max_per_context_and_reads_after_an_id(
    redis_url: str, redis_prefix: str, raw: aioredis.Redis
) -> None:
    store = RedisSemanticStore(
        RedisCacheConfig(url=redis_url, key_prefix=redis_prefix), "ns", max_per_context=3
    )
    try:
        ids = [await store.push("ctx", b"e%d" % n, ttl=60) for n in range(5)]
        assert await store.load("ctx") == [(ids[2], b"e2"), (ids[3], b"e3"), (ids[4], b"e4")]
        assert await raw.xlen(f"{redis_prefix}ns:sem:ctx") == 3
        assert 0 < await raw.pttl(f"{redis_prefix}ns:sem:ctx") <= 60_000
        assert await store.load("ctx", after=ids[3]) == [(ids[4], b"e4")]
        assert await store.load("ctx", after=ids[4]) == []
        assert await store.remove("ctx", ids[3]) == 1
        assert await store.load("ctx") == [(ids[2], b"e2"), (ids[4], b"e4")]
    finally:
        await store.aclose()
