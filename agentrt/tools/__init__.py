"""Tools for agents: typed tools, safe execution, and a two-level result cache.

``@tool`` turns a typed function into a :class:`Tool` (JSON schema, validation); a
:class:`ToolRegistry` runs calls with per-tool timeout, concurrency and cache policy and
turns every failure into an error :class:`ToolResult`; :class:`ResultCache` over memory,
Redis, memcached or two levels caches results with scopes, single-flight and graceful degradation.
Tools may also come from MCP servers (:class:`MCPTools`, the ``mcp`` extra). See
docs/tools.md. ``RedisBackend``, ``MemcachedBackend``, ``ResourceExecutor`` and
``ResourceState`` are handed on lazily: importing this package loads neither redis, emcache
nor pykka until one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentrt._lazy import lazy_exports
from agentrt.tools._errors import (
    ArgumentProblem,
    CacheBackendError,
    CacheDecodeError,
    CacheEncodeError,
    CacheScopeError,
    CacheValueTooLarge,
    MCPProtocolError,
    MCPToolError,
    MCPUnavailable,
    ResourceBroken,
    ResourceUnavailable,
    ToolArgumentError,
    ToolBusy,
    ToolDefinitionError,
    ToolError,
    ToolExecutionError,
    ToolResultError,
    ToolTimeout,
    UnknownTool,
)
from agentrt.tools._policy import CachePolicy, CacheScope, ToolPolicy
from agentrt.tools._registry import TOOL_EVENT, ToolRegistry
from agentrt.tools._result import ErrorKind, ToolResult
from agentrt.tools._tool import Tool, tool
from agentrt.tools.cache import (
    CacheBackend,
    Entry,
    LLMResponseCache,
    Lookup,
    MemcachedCacheConfig,
    MemoryBackend,
    MemoryCacheConfig,
    Outcome,
    RedisCacheConfig,
    ResultCache,
    TwoLevelBackend,
    TwoLevelConfig,
)

if TYPE_CHECKING:
    from agentrt.tools._mcp_config import MCPTools
    from agentrt.tools._resource import ResourceExecutor, ResourceState
    from agentrt.tools.cache._memcached_backend import MemcachedBackend
    from agentrt.tools.cache._redis_backend import RedisBackend
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "MCPTools": "agentrt.tools._mcp_config",
            "MemcachedBackend": "agentrt.tools.cache._memcached_backend",
            "RedisBackend": "agentrt.tools.cache._redis_backend",
            "ResourceExecutor": "agentrt.tools._resource",
            "ResourceState": "agentrt.tools._resource",
        },
    )

__all__ = [
    "TOOL_EVENT",
    "ArgumentProblem",
    "CacheBackend",
    "CacheBackendError",
    "CacheDecodeError",
    "CacheEncodeError",
    "CachePolicy",
    "CacheScope",
    "CacheScopeError",
    "CacheValueTooLarge",
    "Entry",
    "ErrorKind",
    "LLMResponseCache",
    "Lookup",
    "MCPProtocolError",
    "MCPToolError",
    "MCPTools",
    "MCPUnavailable",
    "MemcachedBackend",
    "MemcachedCacheConfig",
    "MemoryBackend",
    "MemoryCacheConfig",
    "Outcome",
    "RedisBackend",
    "RedisCacheConfig",
    "ResourceBroken",
    "ResourceExecutor",
    "ResourceState",
    "ResourceUnavailable",
    "ResultCache",
    "Tool",
    "ToolArgumentError",
    "ToolBusy",
    "ToolDefinitionError",
    "ToolError",
    "ToolExecutionError",
    "ToolPolicy",
    "ToolRegistry",
    "ToolResult",
    "ToolResultError",
    "ToolTimeout",
    "TwoLevelBackend",
    "TwoLevelConfig",
    "UnknownTool",
    "tool",
]
