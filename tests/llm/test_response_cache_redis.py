"""The LLM response cache on real Redis (alone and as the second level) and on
memcached, through LLMPool over real HTTP to the mock server: shared between nodes,
damaged values are misses."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
from support.waiting import eventually

from agentrt.llm import (
    CACHE_DECODE_ERROR_EVENT,
    ChatRequest,
    LLMPool,
    MockLLMServer,
    PoolConfig,
    ResponseCachePolicy,
    response_cache_key,
)
from agentrt.telemetry import Events, Telemetry
from agentrt.tools import (
    Entry,
    LLMResponseCache,
    MemcachedBackend,
    MemcachedCacheConfig,
    MemoryBackend,
    RedisBackend,
    RedisCacheConfig,
    ResultCache,
    TwoLevelBackend,
)

from .conftest import ask, provider

ON = ResponseCachePolicy(enabled=True, tags=("faq",))


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def redis_backend(url: str, prefix: str) -> RedisBackend:
    # generous timeouts: these tests are about what is stored, not how fast
    return RedisBackend(
        RedisCacheConfig(url=url, key_prefix=prefix, op_timeout=5.0, connect_timeout=5.0)
    )


def node_pool(url: str, backend: Any, events: Events | None = None) -> LLMPool:
    store = LLMResponseCache(ResultCache(backend, namespace="ns"))
    return LLMPool(
        PoolConfig(providers=(provider(url),), response_cache=ON),
        response_cache=store,
        recorder=Telemetry(),
        events=events,
    )


async def share_between_two_nodes(
    server: MockLLMServer,
    backends: Sequence[Any],
    text: str,
    stored: Callable[[ChatRequest], Awaitable[None]] | None = None,
) -> None:
    """Node b gets node a's answer from the shared backend (``stored`` checks it there);
    b's tag invalidation makes a ask the server again: two requests reach it in all."""
    a, b = (node_pool(server.url, backend) for backend in backends)
    request = ask(text, temperature=0)
    async with a, b:
        first = await a.chat(request)
        from_b = await b.chat(request)
        assert not first.cached
        assert from_b.cached
        assert from_b.content == first.content
        if stored is not None:
            await stored(request)
        assert await b.invalidate_cache_tag("faq") == 1
        assert not (await a.chat(request)).cached
    assert server.state.counts["chat"] == 2
    for backend in backends:
        await backend.aclose()


async def test_two_nodes_share_answers_through_redis(
    server: MockLLMServer, redis_url: str, redis_prefix: str, raw: aioredis.Redis
) -> None:
    async def ttl_set_server_side(request: ChatRequest) -> None:
        key = f"{redis_prefix}ns:llm:{response_cache_key(request)}"
        assert 0 < await raw.pttl(key) <= 3_600_000  # the policy's TTL, server side

    backends = [redis_backend(redis_url, redis_prefix) for _ in range(2)]
    await share_between_two_nodes(server, backends, "shared", ttl_set_server_side)


async def test_bytes_that_do_not_decode_are_a_miss(
    server: MockLLMServer, redis_url: str, redis_prefix: str, raw: aioredis.Redis
) -> None:
    backend = redis_backend(redis_url, redis_prefix)
    request = ask("garbage", temperature=0)
    await raw.set(f"{redis_prefix}ns:llm:{response_cache_key(request)}", b"\x01not msgpack")
    async with node_pool(server.url, backend) as pool:
        answer = await pool.chat(request)
        assert answer.content == "echo: garbage"
        assert not answer.cached
        assert (await pool.chat(request)).cached  # replaced by the fresh answer
    assert backend.stats()["decode_errors"] == 1
    assert server.state.counts["chat"] == 1
    await backend.aclose()


async def test_an_entry_that_is_no_answer_is_a_miss_with_an_event(
    server: MockLLMServer, redis_url: str, redis_prefix: str
) -> None:
    backend = redis_backend(redis_url, redis_prefix)
    request = ask("not an answer", temperature=0)
    key = f"ns:llm:{response_cache_key(request)}"
    await backend.set(key, Entry(["a", "list"], time.time(), 60.0))
    events = Events()
    seen: list[Mapping[str, Any]] = []
    events.attach("t", CACHE_DECODE_ERROR_EVENT, lambda n, m, meta, s: seen.append(meta))
    async with node_pool(server.url, backend, events) as pool:
        assert not (await pool.chat(request, agent_id="a1")).cached
        assert (await pool.chat(request)).cached
        assert pool.stats()["response_cache"]["decode_errors"] == 1
    assert [(m["model"], m["agent_id"]) for m in seen] == [("mock", "a1")]
    await backend.aclose()


@pytest.mark.parametrize("how", ["key", "tag"])
async def test_two_level_nodes_share_and_invalidate(
    server: MockLLMServer, redis_url: str, redis_prefix: str, how: str
) -> None:
    backends = [
        TwoLevelBackend(MemoryBackend(), redis_backend(redis_url, redis_prefix)) for _ in range(2)
    ]
    for backend in backends:
        assert await backend.start(timeout=30.0)
    a, b = (node_pool(server.url, backend) for backend in backends)
    request = ask("two-level", temperature=0)
    key = f"ns:llm:{response_cache_key(request)}"
    async with a, b:
        await a.chat(request)
        assert (await b.chat(request)).cached  # from Redis, now in b's memory too
        assert backends[1].l1.get_nowait(key) is not None
        if how == "tag":
            assert await a.invalidate_cache_tag("llm") >= 1
        else:
            assert isinstance(a.response_cache, LLMResponseCache)
            assert await a.response_cache.invalidate(response_cache_key(request)) is True
        await eventually(lambda: backends[1].l1.get_nowait(key) is None)  # broadcast
        assert not (await b.chat(request)).cached
    assert server.state.counts["chat"] == 2
    for backend in backends:
        await backend.aclose()


async def test_two_nodes_share_answers_through_memcached(
    server: MockLLMServer, memcached_url: str, memcached_prefix: str
) -> None:
    """The same cache on the other shared backend: answers and tag invalidation cross
    nodes through memcached (tag generation counters: a 1 says the tag was bumped)."""
    config = MemcachedCacheConfig(
        url=memcached_url, key_prefix=memcached_prefix, op_timeout=5.0, connect_timeout=5.0
    )
    backends = [MemcachedBackend(config) for _ in range(2)]
    await share_between_two_nodes(server, backends, "shared over memcached")
