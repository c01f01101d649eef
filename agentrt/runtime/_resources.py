"""Opening and closing the runtime's shared resources from its configuration."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from agentrt.actor import Node
from agentrt.llm import LLMPool, PoolConfig
from agentrt.memory import (
    DictionaryConfig,
    DictionaryRegistry,
    MemoryStore,
    Store,
)
from agentrt.runtime._config import CacheConfig, StoreConfig
from agentrt.telemetry import Events, UsageRecorder
from agentrt.tools import (
    LLMResponseCache,
    MemoryBackend,
    ResultCache,
    Tool,
    ToolRegistry,
    TwoLevelBackend,
)

if TYPE_CHECKING:  # loaded only when an MCP server is configured
    from agentrt.tools import MCPTools

__all__ = [
    "cache_backend",
    "close_quietly",
    "open_dictionaries",
    "open_llm",
    "open_store",
    "open_tools",
    "semantic_index",
    "semantic_share",
]

_log = logging.getLogger("agentrt.runtime")


async def open_store(config: StoreConfig) -> Store:
    """The conversation store ``config`` describes."""
    from agentrt.memory import RedisStore, SQLiteStore  # loads redis/sqlite3 only here

    if config.kind == "sqlite":
        return SQLiteStore(config.path)
    if config.kind == "redis":
        return RedisStore(
            config.url,
            prefix=config.prefix,
            socket_timeout=config.op_timeout,
            max_connections=config.max_connections,
        )
    return MemoryStore(max_bytes=config.max_bytes)


async def open_dictionaries(config: DictionaryConfig, store: Store) -> DictionaryRegistry:
    """The runtime's dictionary registry, with the dictionaries already in ``store``."""
    registry = DictionaryRegistry(config, store=store)
    await registry.load_current()
    return registry


async def open_llm(
    config: PoolConfig,
    cache: CacheConfig,
    backends: Mapping[str, Any] | None = None,
    events: Events | None = None,
    recorder: UsageRecorder | None = None,
) -> LLMPool:
    """The node's LLM pool (``backends`` replace providers' backends by name; per-agent
    usage reported to ``recorder``, the runtime's ``Telemetry``), with its response
    cache's store on a backend of its own of the ``cache`` kind (memory, Redis,
    memcached or two-level, like the tool cache's, same namespace); whether anything is
    cached is the policy's (``config.response_cache``, per agent, per request). With the
    pool's semantic cache on and the cache on Redis, the Redis is asked once what vector
    search it has (:func:`semantic_index`) and semantic entries are shared through it
    (:func:`semantic_share`)."""
    store = LLMResponseCache(ResultCache(cache_backend(cache), namespace=cache.namespace))
    await store.start()  # a two-level store hears other nodes' invalidations from now on
    pool = LLMPool(
        config,
        backends=dict(backends or {}),
        response_cache=store,
        semantic_index=await semantic_index(config, cache, events),
        semantic_share=semantic_share(config, cache, store, events),
        events=events,
        recorder=recorder,
    )
    return await pool.__aenter__()


def semantic_share(
    config: PoolConfig, cache: CacheConfig, store: LLMResponseCache, events: Events | None = None
) -> Any:
    """None, unless the pool's semantic cache is on and ``cache`` is on Redis (alone or
    as the second level): then a ``SemanticShare`` that shares semantic entries with the
    other nodes through that Redis (entries in ``RedisSemanticStore`` lists under the
    cache's namespace; answers in ``store``, the exact cache's; docs/llm.md "Semantic
    cache"). A memcached cache shares the exact answers only."""
    if not config.response_cache.semantic.enabled or not _on_redis(cache):
        return None
    from agentrt.llm import SemanticShare
    from agentrt.tools.cache import RedisSemanticStore  # redis: only here

    return SemanticShare(RedisSemanticStore(cache.redis, cache.namespace), store, events=events)


def _on_redis(cache: CacheConfig) -> bool:
    return cache.kind == "redis" or (cache.kind == "two_level" and cache.l2 == "redis")


async def semantic_index(
    config: PoolConfig, cache: CacheConfig, events: Events | None = None
) -> Any:
    """None (the pool makes its own in-process index on first use), unless the pool's
    semantic cache is on and ``cache`` is on Redis (alone or as the second level): then
    an in-process ``SemanticIndex`` that reports what the Redis offers
    (``redis_vector_search``, asked once; a Redis-backed index is not built), announced
    as ``SEMANTIC_INDEX_EVENT`` (measurement ``count``; metadata ``backend``,
    ``redis_vector_search``). A memcached cache has no vector search to ask about."""
    if not config.response_cache.semantic.enabled or not _on_redis(cache):
        return None
    from agentrt.llm import SEMANTIC_INDEX_EVENT, SemanticIndex  # numpy: only here
    from agentrt.tools.cache import redis_vector_search  # redis: only here

    found = await redis_vector_search(cache.redis)
    if found != "none":
        _log.info("semantic cache: Redis vector search %r; the index stays in process", found)
    if events is not None and events.listening(SEMANTIC_INDEX_EVENT):
        events.emit(
            SEMANTIC_INDEX_EVENT,
            {"count": 1},
            {"backend": "in_process", "redis_vector_search": found},
        )
    return SemanticIndex(redis_vector_search=found)


def cache_backend(config: CacheConfig) -> Any:
    """A new cache backend as ``config`` describes: memory, Redis, memcached, or
    two-level (memory in front of ``config.l2``, Redis or memcached)."""
    if config.kind in ("redis", "memcached"):
        return _shared_backend(config, config.kind)
    if config.kind == "two_level":
        l2 = _shared_backend(config, config.l2)
        return TwoLevelBackend(MemoryBackend(config.memory), l2, config.two_level)
    return MemoryBackend(config.memory)


def _shared_backend(config: CacheConfig, kind: str) -> Any:
    """The Redis or memcached backend (its client library is loaded only here)."""
    if kind == "memcached":
        from agentrt.tools import MemcachedBackend

        return MemcachedBackend(config.memcached)
    from agentrt.tools import RedisBackend

    return RedisBackend(config.redis)


async def open_tools(
    config: CacheConfig,
    tools: Iterable[Tool | MCPTools],
    node: Node,
    events: Events | None = None,
) -> ToolRegistry:
    """The tool registry, its result cache (subscribed to other nodes' invalidations when
    two-level on Redis: :meth:`ResultCache.start`), and its resource executors started on
    ``node``."""
    cache = ResultCache(cache_backend(config), namespace=config.namespace)
    await cache.start()  # a two-level cache hears other nodes' invalidations from now on
    registry = ToolRegistry(tools, cache=cache, events=events)
    await registry.start(node)
    return registry


async def close_quietly(resource: Any) -> None:
    """Close a resource; a failure is logged (shutdown must go on)."""
    try:
        if isinstance(resource, ToolRegistry):
            await resource.aclose()
            if resource.cache is not None:
                await resource.cache.aclose()
        elif isinstance(resource, LLMPool):
            await resource.aclose()
            if resource.semantic_share is not None:
                await resource.semantic_share.aclose()
            if isinstance(resource.response_cache, LLMResponseCache):
                await resource.response_cache.aclose()
        else:
            await resource.aclose()
    except Exception:
        _log.exception("closing %r failed", resource)
