"""Tool-result caching: keys, backends (memory, Redis, two-level), single-flight, the
cache front and the LLM response cache. See docs/tools.md."""

from __future__ import annotations

from agentrt.tools.cache.backend import CacheBackend
from agentrt.tools.cache.codec import FORMAT_MSGPACK, FORMAT_MSGPACK_ZSTD, Entry, EntryCodec
from agentrt.tools.cache.keys import llm_key, tool_key, tool_tag
from agentrt.tools.cache.llm import LLMResponseCache
from agentrt.tools.cache.memory import MemoryBackend, MemoryCacheConfig
from agentrt.tools.cache.redis_backend import RedisBackend, RedisCacheConfig, redact_url
from agentrt.tools.cache.result_cache import Lookup, Outcome, ResultCache
from agentrt.tools.cache.singleflight import SingleFlight
from agentrt.tools.cache.twolevel import TwoLevelBackend, TwoLevelConfig

__all__ = [
    "FORMAT_MSGPACK",
    "FORMAT_MSGPACK_ZSTD",
    "CacheBackend",
    "Entry",
    "EntryCodec",
    "LLMResponseCache",
    "Lookup",
    "MemoryBackend",
    "MemoryCacheConfig",
    "Outcome",
    "RedisBackend",
    "RedisCacheConfig",
    "ResultCache",
    "SingleFlight",
    "TwoLevelBackend",
    "TwoLevelConfig",
    "llm_key",
    "redact_url",
    "tool_key",
    "tool_tag",
]
