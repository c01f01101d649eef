"""Opening and closing the runtime's shared resources from its configuration."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

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
    MemoryBackend,
    ResultCache,
    Tool,
    ToolRegistry,
    TwoLevelBackend,
)

__all__ = ["close_quietly", "open_dictionaries", "open_llm", "open_store", "open_tools"]

_log = logging.getLogger("agentrt.runtime")


async def open_store(config: StoreConfig) -> Store:
    """The conversation store ``config`` describes."""
    from agentrt.memory import RedisStore, SQLiteStore  # loads redis/sqlite3 only here

    if config.kind == "sqlite":
        return SQLiteStore(config.path)
    if config.kind == "redis":
        return RedisStore(config.url, prefix=config.prefix, socket_timeout=config.op_timeout)
    return MemoryStore(max_bytes=config.max_bytes)


async def open_dictionaries(config: DictionaryConfig, store: Store) -> DictionaryRegistry:
    """The runtime's dictionary registry, with the dictionaries already in ``store``."""
    registry = DictionaryRegistry(config, store=store)
    await registry.load_current()
    return registry


async def open_llm(
    config: PoolConfig,
    backends: Mapping[str, Any] | None = None,
    events: Events | None = None,
    recorder: UsageRecorder | None = None,
) -> LLMPool:
    """The node's LLM pool (``backends`` replace providers' backends by name; per-agent
    usage reported to ``recorder``, the runtime's ``Telemetry``)."""
    pool = LLMPool(config, backends=dict(backends or {}), events=events, recorder=recorder)
    return await pool.__aenter__()


async def open_tools(
    config: CacheConfig, tools: Iterable[Tool], node: Node, events: Events | None = None
) -> ToolRegistry:
    """The tool registry, its result cache, and its resource executors started on
    ``node``."""
    backend: Any
    if config.kind in ("redis", "memcached"):
        backend = _shared_backend(config, config.kind)
    elif config.kind == "two_level":
        l2 = _shared_backend(config, config.l2)
        backend = TwoLevelBackend(MemoryBackend(config.memory), l2, config.two_level)
    else:
        backend = MemoryBackend(config.memory)
    cache = ResultCache(backend, namespace=config.namespace)
    registry = ToolRegistry(tools, cache=cache, events=events)
    await registry.start(node)
    return registry


def _shared_backend(config: CacheConfig, kind: str) -> Any:
    """The Redis or memcached backend (its client library is loaded only here)."""
    if kind == "memcached":
        from agentrt.tools import MemcachedBackend

        return MemcachedBackend(config.memcached)
    from agentrt.tools import RedisBackend

    return RedisBackend(config.redis)


async def close_quietly(resource: Any) -> None:
    """Close a resource; a failure is logged (shutdown must go on)."""
    try:
        if isinstance(resource, ToolRegistry):
            await resource.aclose()
            if resource.cache is not None:
                await resource.cache.aclose()
        else:
            await resource.aclose()
    except Exception:
        _log.exception("closing %r failed", resource)
