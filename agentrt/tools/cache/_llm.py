"""The LLM response cache's store, on the same machinery as tool results.

:class:`LLMResponseCache` is what ``LLMPool(response_cache=...)`` takes (it implements
``agentrt.llm.ResponseCache``; this layer does not import ``agentrt.llm``). The pool
decides what is cacheable and computes the key from the normalised request (docs/llm.md,
"Response cache"); this class stores the answer under ``"{namespace}:llm:{key}"`` in a
:class:`ResultCache`, so it has that cache's backends (memory, Redis, two-level),
single-flight fills, TTLs, tags and stats. Values are msgpack (never pickle): a value
read back that the pool cannot decode is dropped by the pool (:meth:`invalidate`) and
counted as a miss.

Example::

    store = LLMResponseCache(ResultCache(MemoryBackend(), namespace="rt1"))
    pool = LLMPool(config, response_cache=store, ...)
    store.stats()["hit_ratio"]
    await store.aclose()
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from agentrt.tools.cache._result_cache import Outcome, ResultCache

__all__ = ["LLMResponseCache"]

#: The tag every cached answer carries (besides the policy's own tags).
ALL_TAG = "llm"


class LLMResponseCache:
    """The store of cached LLM answers (see the module docstring); owns ``cache``
    (:meth:`aclose` closes it and its backend)."""

    def __init__(self, cache: ResultCache | None = None) -> None:
        self.cache = cache if cache is not None else ResultCache()

    def _key(self, key: str) -> str:
        return f"{self.cache.namespace}:llm:{key}"

    async def lookup(
        self,
        key: str,
        fill: Callable[[], Awaitable[tuple[Mapping[str, Any], float]]],
        *,
        ttl: float,
        tags: Sequence[str],
    ) -> tuple[Any, bool]:
        """The stored answer under ``key`` (True), or ``fill()``'s, stored for ``ttl``
        seconds under ``tags`` (kept apart from tool tags) and ``"llm"`` (False).
        Concurrent misses of one key share one ``fill`` (joiners get True); an exception
        from ``fill`` reaches them all."""

        async def compute() -> Outcome:
            value, cost = await fill()
            return Outcome(value, cost=cost)

        found = await self.cache.get_or_compute(self._key(key), compute, ttl=ttl, tags=_tags(tags))
        return found.value, found.cached

    async def get(self, key: str) -> Any | None:
        """The answer stored under ``key``, or None (absent, expired, invalidated).
        Raises :class:`~agentrt.tools.CacheBackendError` when the store cannot answer
        (a two-level store answers from memory instead), so a caller can tell "gone"
        from "unreachable"."""
        entry = await self.cache.backend.get(self._key(key))
        return None if entry is None or entry.error else entry.value

    async def put(
        self, key: str, value: Mapping[str, Any], *, cost: float, ttl: float, tags: Sequence[str]
    ) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds with ``tags`` and ``"llm"``, as
        :meth:`lookup` stores a fill (a failed write is counted, not raised)."""
        await self.cache.put(self._key(key), value, ttl=ttl, tags=_tags(tags), cost=cost)

    async def invalidate(self, key: str) -> bool:
        """Drop the answer under ``key``; True when it was there."""
        return await self.cache.invalidate(self._key(key))

    async def invalidate_tag(self, tag: str) -> int:
        """Drop every answer stored with ``tag`` (``"llm"``: all of them)."""
        return await self.cache.invalidate_tag(_tag(tag))

    async def start(self, timeout: float = 1.0) -> bool:
        """:meth:`ResultCache.start`: subscribe a two-level store to other nodes'
        invalidations (waiting up to ``timeout`` seconds); True when subscribed or when
        there is nothing to subscribe."""
        return await self.cache.start(timeout)

    async def aclose(self) -> None:
        """Close the cache and its backend."""
        await self.cache.aclose()

    def stats(self) -> dict[str, Any]:
        """The underlying :meth:`ResultCache.stats` (hits, misses, hit ratio, joins,
        backend errors, cost saved...)."""
        return self.cache.stats()


def _tags(tags: Sequence[str]) -> tuple[str, ...]:
    return (ALL_TAG, *map(_tag, tags))


def _tag(tag: str) -> str:
    return ALL_TAG if tag == ALL_TAG else f"{ALL_TAG}:{tag}"
