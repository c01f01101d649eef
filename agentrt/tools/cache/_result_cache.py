"""The cache front: lookups, single-flight fills, refresh-ahead, negative caching, stats.

:class:`ResultCache` sits on one backend (memory by default, Redis, or two-level) under a
``namespace`` (one per runtime; tags are namespaced with it). It never raises a backend
error: a failing backend counts as a miss (reads) or a skipped write, and is counted in
``backend_errors``.

``get_or_compute(key, compute, ...)``:

1. a local hit (``backend.peek``: the memory level) returns the stored value at once
   (and, with ``refresh_ahead``, starts one background refresh when less than that
   fraction of the TTL is left);
2. otherwise one :class:`SingleFlight` fill per key reads the backend (Redis) and, if
   the value is not there either, runs ``compute()``: concurrent callers on one key share
   one remote read and at most one execution;
3. a successful outcome is stored for ``ttl``; an error outcome only when ``negative_ttl``
   is given (opt-in), for that (short) TTL.

Counting: a value found in the cache (locally or by the fill's read) is a *hit*; a caller
that waited for an execution is a *miss* (``singleflight_joins`` counts those that joined
another caller's). ``latency`` is the time of each cache read (local or remote).

Example::

    cache = ResultCache(MemoryBackend(), namespace="rt1")

    async def fetch() -> Outcome:
        return Outcome(await slow_lookup(), cost=0.002)

    hit = await cache.get_or_compute("rt1:tool:x:1", fetch, ttl=60, tags=("tool:x",))
    hit.value, hit.source          # (..., "miss"), then "hit" on the next call
    await cache.invalidate_tag("tool:x")
    await cache.aclose()
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, NamedTuple

from agentrt.telemetry import LogHistogram
from agentrt.tools._errors import CacheBackendError
from agentrt.tools.cache._backend import CacheBackend
from agentrt.tools.cache._codec import Entry
from agentrt.tools.cache._keys import tool_tag
from agentrt.tools.cache._memory import MemoryBackend
from agentrt.tools.cache._singleflight import SingleFlight
from agentrt.tools.cache._twolevel import TwoLevelBackend

__all__ = ["Lookup", "Outcome", "ResultCache"]

log = logging.getLogger("agentrt.tools.cache.result_cache")


class Outcome(NamedTuple):
    """What ``compute()`` produced: a JSON/msgpack-able ``value``, whether it is an
    ``error``, its estimated ``cost`` (what a later hit saves), and whether it may be
    stored at all (``store=False`` for transient errors such as overload)."""

    value: Any
    error: bool = False
    cost: float = 0.0
    store: bool = True


class Lookup(NamedTuple):
    """A value and where it came from: ``"hit"`` (cache), ``"join"`` (another caller's
    concurrent execution) or ``"miss"`` (this caller's execution)."""

    value: Any
    error: bool
    source: Literal["hit", "join", "miss"]

    @property
    def cached(self) -> bool:
        """True when no execution was started for this caller."""
        return self.source != "miss"


class ResultCache:
    """Cache front over one backend (see the module docstring).

    Owns the backend and its single-flight tasks: :meth:`aclose` closes both.
    ``clock`` gives wall-clock seconds (default ``time.time``).
    """

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        namespace: str = "agentrt",
        clock: Callable[[], float] = time.time,
        max_flights: int = 10_000,
    ) -> None:
        self.backend: CacheBackend = backend if backend is not None else MemoryBackend()
        self.namespace = namespace
        self._clock = clock
        self._flights = SingleFlight(max_flights=max_flights)
        self._latency = LogHistogram()
        self._hits = 0
        self._misses = 0
        self._negative_hits = 0
        self._refreshes = 0
        self._errors = 0
        self._cost_saved = 0.0

    def _tag(self, tag: str) -> str:
        return f"{self.namespace}:{tag}"

    async def _read(self, key: str) -> Entry | None:
        try:
            return await self.backend.get(key)
        except CacheBackendError as exc:
            self._errors += 1
            log.debug("cache read failed: %s", exc)
            return None

    async def get(self, key: str) -> Entry | None:
        """The live entry under ``key`` or None; counts a hit or a miss and the latency."""
        start = time.perf_counter()
        entry = await self._read(key)
        self._latency.record(time.perf_counter() - start)
        if entry is None:
            self._misses += 1
        else:
            self._count_hit(entry)
        return entry

    async def put(
        self,
        key: str,
        value: Any,
        *,
        ttl: float,
        tags: Sequence[str] = (),
        error: bool = False,
        cost: float = 0.0,
    ) -> None:
        """Store ``value`` for ``ttl`` seconds under ``tags`` (a failed backend write is
        counted, not raised). Raises TypeError when ``value`` is not msgpack-serializable
        (JSON-like data is)."""
        entry = Entry(
            value, self._clock(), float(ttl), error, cost, tuple(self._tag(t) for t in tags)
        )
        try:
            await self.backend.set(key, entry)
        except CacheBackendError as exc:
            self._errors += 1
            log.debug("cache write failed: %s", exc)

    async def get_or_compute(
        self,
        key: str,
        compute: Callable[[], Awaitable[Outcome]],
        *,
        ttl: float,
        tags: Sequence[str] = (),
        negative_ttl: float | None = None,
        refresh_ahead: float | None = None,
    ) -> Lookup:
        """The cached value for ``key``, computing it once on a miss (module docstring)."""
        start = time.perf_counter()
        entry = self.backend.peek(key)
        if entry is not None:
            self._latency.record(time.perf_counter() - start)
            self._count_hit(entry)
            if refresh_ahead is not None and not entry.error:
                self._maybe_refresh(key, entry, compute, ttl, tags, refresh_ahead)
            return Lookup(entry.value, entry.error, "hit")

        async def fill() -> tuple[Outcome, bool]:
            started = time.perf_counter()
            stored = await self._read(key)
            self._latency.record(time.perf_counter() - started)
            if stored is not None:
                return Outcome(stored.value, stored.error, stored.cost), True
            return await self._compute_and_store(key, compute, ttl, tags, negative_ttl), False

        (outcome, from_cache), joined = await self._flights.run(key, fill)
        if from_cache:
            self._hits += 1
            self._cost_saved += outcome.cost
            self._negative_hits += outcome.error
            return Lookup(outcome.value, outcome.error, "hit")
        self._misses += 1
        if joined:
            self._cost_saved += outcome.cost
        return Lookup(outcome.value, outcome.error, "join" if joined else "miss")

    def _count_hit(self, entry: Entry) -> None:
        self._hits += 1
        self._cost_saved += entry.cost
        if entry.error:
            self._negative_hits += 1

    async def _compute_and_store(
        self,
        key: str,
        compute: Callable[[], Awaitable[Outcome]],
        ttl: float,
        tags: Sequence[str],
        negative_ttl: float | None,
    ) -> Outcome:
        outcome = await compute()
        if not outcome.store:
            pass
        elif not outcome.error:
            await self.put(key, outcome.value, ttl=ttl, tags=tags, cost=outcome.cost)
        elif negative_ttl is not None:
            await self.put(key, outcome.value, ttl=negative_ttl, tags=tags, error=True)
        return outcome

    def _maybe_refresh(
        self,
        key: str,
        entry: Entry,
        compute: Callable[[], Awaitable[Outcome]],
        ttl: float,
        tags: Sequence[str],
        fraction: float,
    ) -> None:
        if entry.remaining(self._clock()) >= fraction * entry.ttl:
            return

        async def refresh() -> tuple[Outcome, bool]:
            return await self._compute_and_store(key, compute, ttl, tags, None), False

        if self._flights.start_nowait(key, refresh):
            self._refreshes += 1

    async def invalidate(self, key: str) -> bool:
        """Remove ``key``; True when it was present (in any level)."""
        try:
            return await self.backend.delete(key)
        except CacheBackendError:
            self._errors += 1
            return False

    async def invalidate_tag(self, tag: str) -> int:
        """Remove every entry stored with ``tag``; returns how many were found."""
        try:
            return await self.backend.invalidate_tag(self._tag(tag))
        except CacheBackendError:
            self._errors += 1
            return 0

    async def invalidate_tool(self, tool: str) -> int:
        """Remove every cached result of ``tool`` (all scopes)."""
        return await self.invalidate_tag(tool_tag(tool))

    async def start(self, timeout: float = 1.0) -> bool:
        """Start the backend's background work (a :class:`TwoLevelBackend`'s listener of
        other nodes' invalidations) and wait up to ``timeout`` seconds until it is
        subscribed; True when it is, or when the backend has nothing to start. Optional:
        the listener otherwise starts on first use. :meth:`aclose` stops it."""
        if isinstance(self.backend, TwoLevelBackend):
            return await self.backend.start(timeout)
        return True

    async def aclose(self) -> None:
        """Cancel in-flight fills and refreshes, then close the backend."""
        await self._flights.aclose()
        await self.backend.aclose()

    def stats(self) -> dict[str, Any]:
        """Hits, misses, hit ratio, single-flight joins and executions, evictions, bytes,
        read latency, backend errors, degradation state and estimated cost saved."""
        backend = self.backend.stats()
        flights = self._flights.stats()
        lookups = self._hits + self._misses
        return {
            "namespace": self.namespace,
            "hits": self._hits,
            "misses": self._misses,
            "hit_ratio": round(self._hits / lookups, 4) if lookups else 0.0,
            "negative_hits": self._negative_hits,
            "singleflight_joins": flights["joins"],
            "executions": flights["executions"],
            "in_flight": flights["in_flight"],
            "abandoned": flights["abandoned"],
            "refreshes": self._refreshes,
            "entries": backend.get("entries", 0),
            "evictions": backend.get("evictions", 0),
            "bytes": backend.get("bytes", 0),
            "latency": self._latency.summary(),
            "backend_errors": self._errors + backend.get("backend_errors", 0),
            "degraded": bool(backend.get("degraded", False)),
            "cost_saved": round(self._cost_saved, 6),
            "backend": backend,
        }
