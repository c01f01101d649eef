"""Tool-result caching: keys, backends (memory, Redis, two-level), single-flight, the
cache front and the LLM response cache. See docs/tools.md.

``RedisBackend`` and ``MemcachedBackend`` are handed on lazily: importing this package loads
no redis and no emcache until one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentrt._lazy import lazy_exports
from agentrt.tools.cache._backend import CacheBackend
from agentrt.tools.cache._codec import Entry
from agentrt.tools.cache._llm import LLMResponseCache
from agentrt.tools.cache._memcached_config import MemcachedCacheConfig
from agentrt.tools.cache._memory import MemoryBackend, MemoryCacheConfig
from agentrt.tools.cache._redis_config import RedisCacheConfig
from agentrt.tools.cache._result_cache import Lookup, Outcome, ResultCache
from agentrt.tools.cache._twolevel import TwoLevelBackend, TwoLevelConfig

if TYPE_CHECKING:
    from agentrt.tools.cache._memcached_backend import MemcachedBackend
    from agentrt.tools.cache._redis_backend import RedisBackend
    from agentrt.tools.cache._semantic_store import RedisSemanticStore
    from agentrt.tools.cache._vectorprobe import VectorSearch, redis_vector_search
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "MemcachedBackend": "agentrt.tools.cache._memcached_backend",
            "RedisBackend": "agentrt.tools.cache._redis_backend",
            "RedisSemanticStore": "agentrt.tools.cache._semantic_store",
            "VectorSearch": "agentrt.tools.cache._vectorprobe",
            "redis_vector_search": "agentrt.tools.cache._vectorprobe",
        },
    )

__all__ = [
    "CacheBackend",
    "Entry",
    "LLMResponseCache",
    "Lookup",
    "MemcachedBackend",
    "MemcachedCacheConfig",
    "MemoryBackend",
    "MemoryCacheConfig",
    "Outcome",
    "RedisBackend",
    "RedisCacheConfig",
    "RedisSemanticStore",
    "ResultCache",
    "TwoLevelBackend",
    "TwoLevelConfig",
    "VectorSearch",
    "redis_vector_search",
]
