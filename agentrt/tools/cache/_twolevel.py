"""Memory (L1) in front of a shared L2 (Redis or memcached), write-through, degrading to
memory when L2 fails.

Reads try L1, then L2 (an L2 hit is copied into L1, its L1 life capped by ``l1_max_ttl``,
which bounds how stale a missed invalidation can leave this node). Writes go to both.

**Invalidation across nodes.** With ``broadcast`` (default) and an L2 that carries
messages (Redis; memcached does not), every invalidation (by key, by tag, so by tool) is
also published on the channel ``key_prefix + "invalidate"`` (one channel per prefix; keys
and tags carry the cache's namespace, so caches of other namespaces on that channel drop
nothing of each other's). A message is ``node|kind|name``: ``node`` is this backend's
random id, and a listener skips its own; the listener task (started by :meth:`start`, or
on first use) applies the other nodes' invalidations to this node's L1. Delivery is Redis
pub/sub's, at most once: a node that is not subscribed at that moment misses the message.
So L1 is dropped whole when the subscription is (re)established after any time in which
a message may have been missed: after a gap (Redis went away, the connection was cut;
logged, counted as ``l1_flushes``), and on the first subscription if L1 was written
before it. An L2 read that an invalidation overtakes is served but not copied into L1.
A malformed message (not UTF-8, no node, unknown kind, empty name) is counted as
``malformed_invalidations``, logged once per backend and ignored; the listener never
stops on one. Over memcached, another node's L1 copy lives out ``l1_max_ttl`` after an
invalidation (L2 itself is invalidated at once): set ``l1_max_ttl`` to the staleness you
accept.

**Degradation.** The first L2 failure (unreachable, refused, slower than the backend's
``op_timeout``) flips the backend to *degraded*: one warning is logged, ``outages`` is
counted, and from then on L2 is skipped entirely (no per-request timeouts): reads and writes
use L1 only, and invalidations are applied to L1 and remembered (up to
``max_pending_invalidations``; beyond that they are counted as ``lost_invalidations`` and
logged). A probe task pings L2 with exponential backoff (``probe_initial`` doubling to
``probe_max``); when L2 answers, the remembered invalidations are replayed, the state
returns to healthy and one recovery line is logged. Callers never see an L2 error. A value
L2 refuses for its size (:class:`~agentrt.tools.CacheValueTooLarge`, memcached) is kept in
L1 only and counted (``l2_refused``); it is not an outage.

Example::

    backend = TwoLevelBackend(MemoryBackend(), RedisBackend(RedisCacheConfig(url=url)))
    await backend.start()            # subscribed to other nodes' invalidations
    ...
    backend.stats()["degraded"]      # True while L2 is away
    await backend.aclose()           # cancels the probe, closes both levels
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.tools._errors import CacheBackendError, CacheValueTooLarge
from agentrt.tools.cache._backend import Broadcaster, SharedBackend
from agentrt.tools.cache._codec import Entry
from agentrt.tools.cache._memory import MemoryBackend

__all__ = ["TwoLevelBackend", "TwoLevelConfig"]

log = logging.getLogger("agentrt.tools.cache.twolevel")

_Kind = Literal["key", "tag"]
_Invalidation = tuple[_Kind, str]
_SECONDS = Bounds(low=0, open_low=True, high=86_400, unit=" s")
_CHANNEL = "invalidate"


@dataclass(frozen=True, kw_only=True, slots=True)
class TwoLevelConfig:
    """Settings of a :class:`TwoLevelBackend`.

    - ``l1_max_ttl``: the longest an L1 copy lives (default 60 s).
    - ``probe_initial`` / ``probe_max``: first and longest delay between reconnection
      probes while degraded (defaults 0.1 s and 5 s; the delay doubles).
    - ``max_pending_invalidations``: invalidations remembered during an outage for replay
      (default 10,000).
    - ``broadcast``: publish invalidations on L2 and apply other nodes' to L1 (default
      True; only where L2 carries messages: Redis, not memcached).

    Example: ``TwoLevelConfig(l1_max_ttl=10, probe_max=2)``
    """

    l1_max_ttl: Annotated[float, _SECONDS] = 60.0
    probe_initial: Annotated[float, _SECONDS] = 0.1
    probe_max: Annotated[float, _SECONDS] = 5.0
    max_pending_invalidations: Annotated[int, Bounds(low=0, high=100_000_000)] = 10_000
    broadcast: bool = True

    def __post_init__(self) -> None:
        check_fields(self)  # NaN, inf, bools, negatives and the absurd
        if self.probe_max < self.probe_initial:
            raise ConfigError("probe_max", "must be >= probe_initial")


def _parse(message: bytes) -> tuple[bytes, _Kind, str] | None:
    """``(node, kind, name)`` of an invalidation message, or None when it is malformed."""
    node, sep1, rest = message.partition(b"|")
    kind, sep2, raw = rest.partition(b"|")
    if not (sep1 and sep2 and node and raw) or kind not in (b"key", b"tag"):
        return None
    try:
        name = raw.decode()
    except UnicodeDecodeError:
        return None
    return node, "key" if kind == b"key" else "tag", name


class TwoLevelBackend:
    """L1 memory + a shared L2 (``RedisBackend``, ``MemcachedBackend``) with graceful
    degradation (see the module docstring).

    Owns both levels and the probe task: :meth:`aclose` closes them all.
    """

    name = "two-level"

    def __init__(
        self, l1: MemoryBackend, l2: SharedBackend, config: TwoLevelConfig | None = None
    ) -> None:
        self.l1 = l1
        self.l2 = l2
        self.config = config or TwoLevelConfig()
        broadcasts = self.config.broadcast and isinstance(l2, Broadcaster)
        self._bus: Broadcaster | None = l2 if broadcasts else None  # type: ignore[assignment]
        self._refused = 0
        self._degraded = False
        self._degraded_since = 0.0
        self._probe_task: asyncio.Task[None] | None = None
        self._pending: deque[_Invalidation] = deque()
        self._outages = 0
        self._errors = 0
        self._lost = 0
        self._l1_hits = 0
        self._l2_hits = 0
        self._closed = False
        self._node = uuid.uuid4().hex[:16].encode()
        self._listener: asyncio.Task[None] | None = None
        self._listening = False
        self._subscribed = False
        self._subscribed_once = asyncio.Event()
        self._unsubscribed_writes = False
        self._generation = 0  # bumped by every invalidation applied to L1
        self._remote_invalidations = 0
        self._malformed = 0
        self._flushes = 0

    async def start(self, timeout: float = 1.0) -> bool:
        """Start the invalidation listener and wait up to ``timeout`` seconds until it is
        subscribed; True when it is (always True without broadcast). When Redis does not
        answer in time the listener keeps trying in the background (and drops L1 once it
        gets through). Idempotent; :meth:`aclose` stops it."""
        if not self._listening:
            self._start_listener()
        if self._bus is None or self._closed:
            return self._bus is None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._subscribed_once.wait()
        return self._subscribed

    @property
    def degraded(self) -> bool:
        """True while L2 is considered unavailable (serving from memory only)."""
        return self._degraded

    def peek(self, key: str) -> Entry | None:
        """The L1 entry, or None."""
        if not self._listening:
            self._start_listener()
        entry = self.l1.get_nowait(key)
        if entry is not None:
            self._l1_hits += 1
        return entry

    async def get(self, key: str) -> Entry | None:
        """L1, then L2 unless degraded; never raises a backend error."""
        if not self._listening:
            self._start_listener()
        entry = self.l1.get_nowait(key)
        if entry is not None:
            self._l1_hits += 1
            return entry
        if self._degraded:
            return None
        generation = self._generation
        try:
            entry = await self.l2.get(key)
        except CacheBackendError as exc:
            self._outage(exc)
            return None
        if entry is not None:
            self._l2_hits += 1
            if generation == self._generation:  # no invalidation overtook the read
                self._set_l1(key, entry)
        return entry

    def _set_l1(self, key: str, entry: Entry, size: int | None = None) -> None:
        if self._bus is not None and not self._subscribed:
            self._unsubscribed_writes = True  # may miss an invalidation: flushed later
        self.l1.set_nowait(key, entry, size=size, max_ttl=self.config.l1_max_ttl)

    async def set(self, key: str, entry: Entry) -> None:
        """Write to L1, then to L2 unless degraded."""
        if not self._listening:
            self._start_listener()
        blob = self.l2.codec.encode(entry)
        self._set_l1(key, entry, len(blob))
        if self._degraded:
            return
        try:
            await self.l2.set_encoded(key, blob, entry.ttl, entry.tags)
        except CacheValueTooLarge as exc:
            self._refused += 1
            log.debug("cache: L2 refused a value: %s", exc)
        except CacheBackendError as exc:
            self._outage(exc)

    async def delete(self, key: str) -> bool:
        """Delete from both levels (from L2 later, when degraded)."""
        self._generation += 1
        found = self.l1.delete_nowait(key)
        removed = await self._l2_invalidate(("key", key))
        return removed > 0 or found

    async def invalidate_tag(self, tag: str) -> int:
        """Invalidate ``tag`` in both levels; returns the larger count of the two."""
        self._generation += 1
        count = self.l1.invalidate_tag_nowait(tag)
        return max(count, await self._l2_invalidate(("tag", tag)))

    async def _l2_invalidate(self, op: _Invalidation) -> int:
        if not self._degraded:
            try:
                return await self._apply(op)
            except CacheBackendError as exc:
                self._outage(exc)
        self._remember(op)
        return 0

    async def _apply(self, op: _Invalidation) -> int:
        kind, name = op
        if kind == "key":
            count = int(await self.l2.delete(name))
        else:
            count = await self.l2.invalidate_tag(name)
        if self._bus is not None:
            message = b"|".join((self._node, kind.encode(), name.encode()))
            await self._bus.publish(_CHANNEL, message)
        return count

    def _start_listener(self) -> None:
        self._listening = True
        if self._closed or self._bus is None:
            return
        self._listener = asyncio.get_running_loop().create_task(
            self._listen(), name="agentrt-cache-invalidation-listener"
        )

    async def _listen(self) -> None:
        assert self._bus is not None
        delay = self.config.probe_initial
        gap = False
        # `while not closed` as well as the cancel: a cancel swallowed inside a Redis read
        # (seen as aclose() waiting forever on this task, once in CI) must end it too
        while not self._closing():
            try:
                async for message in self._bus.messages(_CHANNEL):
                    if self._closing():
                        return
                    if not self._subscribed:
                        self._on_subscribed(gap)
                        delay = self.config.probe_initial
                    if message:
                        self._apply_remote(message)
            except CacheBackendError:
                pass
            self._subscribed = False
            gap = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.probe_max)

    def _closing(self) -> bool:
        """Has ``aclose`` begun? (A method: read again after every await.)"""
        return self._closed

    def _on_subscribed(self, gap: bool) -> None:
        """Subscribed (again): drop L1 when invalidations may have been missed."""
        self._subscribed = True
        self._subscribed_once.set()
        if gap or self._unsubscribed_writes:
            self._generation += 1
            dropped = len(self.l1)
            self.l1.clear()
            self._flushes += 1
            if gap:
                log.warning(
                    "cache: invalidations re-subscribed after a gap; dropped %d L1 entries "
                    "(invalidations may have been missed meanwhile)",
                    dropped,
                )
        self._unsubscribed_writes = False

    def _apply_remote(self, message: bytes) -> None:
        parsed = _parse(message)
        if parsed is None:
            self._malformed += 1
            if self._malformed == 1:
                log.warning(
                    "cache: ignoring a malformed invalidation message on %r (%d bytes); "
                    "further ones are only counted (malformed_invalidations)",
                    _CHANNEL,
                    len(message),
                )
            return
        node, kind, name = parsed
        if node == self._node:
            return
        self._remote_invalidations += 1
        self._generation += 1
        if kind == "key":
            self.l1.delete_nowait(name)
        else:
            self.l1.invalidate_tag_nowait(name)

    def _remember(self, op: _Invalidation) -> None:
        if len(self._pending) >= self.config.max_pending_invalidations:
            self._lost += 1
            if self._lost == 1:
                log.warning(
                    "cache: L2 outage outlasts the invalidation buffer; "
                    "invalidations are being lost (stale values may come back)"
                )
            return
        self._pending.append(op)

    def _outage(self, exc: CacheBackendError) -> None:
        self._errors += 1
        if self._degraded or self._closed:
            return
        self._degraded = True
        self._degraded_since = time.monotonic()
        self._outages += 1
        log.warning(
            "cache: %s unavailable (%s); serving from memory until it returns", self.l2.name, exc
        )
        self._probe_task = asyncio.get_running_loop().create_task(
            self._probe(), name=f"agentrt-cache-{self.l2.name}-probe"
        )

    async def _probe(self) -> None:
        delay = self.config.probe_initial
        while True:
            await asyncio.sleep(delay)
            try:
                await self.l2.ping()
                await self._replay()
            except CacheBackendError:
                self._errors += 1
                delay = min(delay * 2, self.config.probe_max)
                continue
            break
        self._degraded = False
        self._probe_task = None
        took = time.monotonic() - self._degraded_since
        log.warning("cache: %s is back after %.1f s; two-level caching resumed", self.l2.name, took)

    async def _replay(self) -> None:
        while self._pending:
            await self._apply(self._pending[0])
            self._pending.popleft()

    async def aclose(self) -> None:
        """Cancel the probe task and close both levels."""
        self._closed = True
        tasks = [self._probe_task, self._listener]
        self._probe_task = self._listener = None
        self._listening = True
        self._subscribed = False
        for task in tasks:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.l2.aclose()
        await self.l1.aclose()

    def stats(self) -> dict[str, Any]:
        """State, outage counters, per-level hits and each level's own stats."""
        outage_s = time.monotonic() - self._degraded_since if self._degraded else 0.0
        return {
            "backend": self.name,
            "degraded": self._degraded,
            "outages": self._outages,
            "outage_seconds": round(outage_s, 3),
            "backend_errors": self._errors,
            "l1_hits": self._l1_hits,
            "l2_hits": self._l2_hits,
            "pending_invalidations": len(self._pending),
            "lost_invalidations": self._lost,
            "l2_refused": self._refused,
            "broadcast": self._bus is not None,
            "subscribed": self._subscribed,
            "remote_invalidations": self._remote_invalidations,
            "malformed_invalidations": self._malformed,
            "l1_flushes": self._flushes,
            "entries": len(self.l1),
            "bytes": self.l1.stats()["bytes"],
            "evictions": self.l1.stats()["evictions"],
            "l1": self.l1.stats(),
            "l2": self.l2.stats(),
        }
