"""What vector search a Redis server offers, asked of a real server; and the runtime's
report of the semantic index in use."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

import pytest

from agentrt.llm import (
    SEMANTIC_INDEX_EVENT,
    PoolConfig,
    ProviderConfig,
    ResponseCachePolicy,
    SemanticCachePolicy,
)
from agentrt.runtime import CacheConfig
from agentrt.runtime._resources import semantic_index
from agentrt.telemetry import Events
from agentrt.tools.cache import RedisCacheConfig, redis_vector_search
from agentrt.tools.cache._vectorprobe import _name


async def test_a_redis_without_modules_has_no_vector_search(redis_url: str) -> None:
    # the test servers (7.0.x, no modules) have neither FT.SEARCH nor VADD
    assert await redis_vector_search(RedisCacheConfig(url=redis_url)) == "none"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_server_that_does_not_answer_is_unknown_and_its_password_stays_hidden(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://:s3cret@127.0.0.1:{_closed_port()}/0"
    assert await redis_vector_search(RedisCacheConfig(url=url, connect_timeout=1.0)) == "unknown"
    assert "s3cret" not in caplog.text
    assert "could not ask Redis" in caplog.text


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        ({b"name": b"search", b"ver": 20809}, "search"),
        ({"name": "vectorset", "ver": 1}, "vectorset"),
        ([b"name", b"ReJSON", b"ver", 20606], "rejson"),
    ],
)
def test_module_list_entries_of_either_shape(entry: object, name: str) -> None:
    assert _name(entry) == name


def test_an_odd_module_list_entry_is_an_error() -> None:
    with pytest.raises(ValueError, match="MODULE LIST"):
        _name(42)


def _pool_config(enabled: bool) -> PoolConfig:
    semantic = SemanticCachePolicy(enabled=enabled, embedding_model="mock-embed")
    return PoolConfig(
        providers=(ProviderConfig(name="mock", kind="mock"),),
        response_cache=ResponseCachePolicy(semantic=semantic),
    )


async def test_the_runtime_reports_the_index_and_what_redis_offers(redis_url: str) -> None:
    events = Events()
    seen: list[Mapping[str, Any]] = []
    events.attach("t", SEMANTIC_INDEX_EVENT, lambda n, m, meta, s: seen.append(meta))
    cache = CacheConfig(kind="redis", redis=RedisCacheConfig(url=redis_url))
    index = await semantic_index(_pool_config(True), cache, events)
    assert index is not None
    stats = index.stats()
    assert (stats["backend"], stats["redis_vector_search"]) == ("in_process", "none")
    assert seen == [{"backend": "in_process", "redis_vector_search": "none"}]
    # nothing asked when the semantic cache is off or the cache is in memory or memcached
    assert await semantic_index(_pool_config(False), cache, events) is None
    assert await semantic_index(_pool_config(True), CacheConfig(), events) is None
    for memcached in (
        CacheConfig(kind="memcached"),
        CacheConfig(kind="two_level", l2="memcached"),
    ):
        assert await semantic_index(_pool_config(True), memcached, events) is None
    assert len(seen) == 1
