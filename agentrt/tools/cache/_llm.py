"""An exact-match LLM response cache on the same machinery as tool results.

Generic over JSON-able requests and responses (this layer does not import
``agentrt.llm``): the key is the canonical JSON of the request mapping (model, parameters,
messages), minus transport-only fields (``stream``, ``user``, ``metadata``, ``timeout``,
``request_id`` by default). Only deterministic requests are cached (``temperature`` present
and 0) unless the cache allows otherwise or a caller opts in per call. A hit adds the
stored ``cost`` of the original call to ``cost_saved`` (counted here, and by the
underlying :class:`ResultCache` for all its hits).

Example::

    llm_cache = LLMResponseCache(ResultCache(MemoryBackend(), namespace="rt1"), ttl=3600)
    request = {"model": "m", "temperature": 0, "messages": [{"role": "user", "content": "hi"}]}
    if (response := await llm_cache.get(request)) is None:
        response = await call_the_model(request)
        await llm_cache.put(request, response, cost=0.0021)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentrt.errors import ConfigError
from agentrt.tools.cache._keys import llm_key
from agentrt.tools.cache._result_cache import ResultCache

__all__ = ["LLMResponseCache"]

_TRANSPORT_FIELDS = frozenset({"stream", "user", "metadata", "timeout", "request_id"})
_TAG = "llm"


class LLMResponseCache:
    """Exact-match response cache (see the module docstring).

    - ``ttl``: seconds a response stays cached (default 3600).
    - ``allow_nondeterministic``: cache requests whose temperature is not 0 (default False).
    - ``ignore_fields``: request fields left out of the key.
    """

    def __init__(
        self,
        cache: ResultCache,
        *,
        ttl: float = 3600.0,
        allow_nondeterministic: bool = False,
        ignore_fields: frozenset[str] = _TRANSPORT_FIELDS,
    ) -> None:
        if not ttl > 0:
            raise ConfigError("ttl", f"must be > 0, got {ttl!r}")
        self.cache = cache
        self.ttl = ttl
        self.allow_nondeterministic = allow_nondeterministic
        self.ignore_fields = ignore_fields
        self._hits = 0
        self._misses = 0
        self._skipped = 0
        self._stored = 0
        self._cost_saved = 0.0

    def cacheable(self, request: Mapping[str, Any], *, nondeterministic_ok: bool = False) -> bool:
        """True when ``request`` may be cached: deterministic (``temperature`` == 0), or
        allowed by the cache or by the caller."""
        if self.allow_nondeterministic or nondeterministic_ok:
            return True
        temperature = request.get("temperature")
        return isinstance(temperature, int | float) and temperature == 0

    def key(self, request: Mapping[str, Any]) -> str:
        """The cache key of ``request``; integral floats count as integers (JSON does
        not tell ``0`` from ``0.0``). Raises TypeError when it is not JSON-able."""
        body = {k: _normalize(v) for k, v in request.items() if k not in self.ignore_fields}
        return llm_key(self.cache.namespace, body)

    async def get(self, request: Mapping[str, Any], *, nondeterministic_ok: bool = False) -> Any:
        """The cached response for ``request``, or None (miss, or not cacheable)."""
        if not self.cacheable(request, nondeterministic_ok=nondeterministic_ok):
            self._skipped += 1
            return None
        entry = await self.cache.get(self.key(request))
        if entry is None or entry.error:
            self._misses += 1
            return None
        self._hits += 1
        self._cost_saved += entry.cost
        return entry.value

    async def put(
        self,
        request: Mapping[str, Any],
        response: Any,
        cost: float = 0.0,
        *,
        nondeterministic_ok: bool = False,
    ) -> bool:
        """Store ``response`` (JSON-able) for ``request``; returns False when the request
        is not cacheable. ``cost`` is what the call cost (saved by each later hit)."""
        if not self.cacheable(request, nondeterministic_ok=nondeterministic_ok):
            return False
        await self.cache.put(self.key(request), response, ttl=self.ttl, tags=(_TAG,), cost=cost)
        self._stored += 1
        return True

    async def invalidate_all(self) -> int:
        """Remove every cached LLM response of this namespace."""
        return await self.cache.invalidate_tag(_TAG)

    def stats(self) -> dict[str, Any]:
        """Hits, misses, hit ratio, requests skipped as nondeterministic, stored, cost saved."""
        lookups = self._hits + self._misses
        return {
            "hits": self._hits,
            "misses": self._misses,
            "hit_ratio": round(self._hits / lookups, 4) if lookups else 0.0,
            "skipped_nondeterministic": self._skipped,
            "stored": self._stored,
            "cost_saved": round(self._cost_saved, 6),
        }


def _normalize(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(v) for v in value]
    return value
