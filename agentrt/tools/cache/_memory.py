"""The in-process cache backend: LRU + TTL + a byte budget, every operation O(1).

An ``OrderedDict`` keeps entries in recency order: a hit moves its key to the end, an
insert evicts from the front until both ``max_entries`` and ``max_bytes`` hold. Expiry is
checked on read (an expired entry is removed and counted), so no timer task runs. Tags map
to the set of keys carrying them; evicting or deleting a key removes it from its tags.

Values are stored as given, not copied: callers treat returned values as read-only.

Example::

    backend = MemoryBackend(MemoryCacheConfig(max_entries=1000, max_bytes=8 << 20))
    await backend.set("k", Entry(value="v", stored_at=time.time(), ttl=60.0, tags=("tool:x",)))
    (await backend.get("k")).value        # "v"
    await backend.invalidate_tag("tool:x")  # 1
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentrt.errors import ConfigError
from agentrt.tools.cache._codec import Entry, EntryCodec

__all__ = ["MemoryBackend", "MemoryCacheConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class MemoryCacheConfig:
    """Bounds of a :class:`MemoryBackend`.

    - ``max_entries``: entries kept (default 10,000); the least recently used goes first.
    - ``max_bytes``: budget for the entries' msgpack size (default 64 MiB); an entry larger
      than the whole budget is not stored (counted as ``rejected``).

    Example: ``MemoryCacheConfig(max_entries=50_000, max_bytes=256 << 20)``
    """

    max_entries: int = 10_000
    max_bytes: int = 64 << 20

    def __post_init__(self) -> None:
        for key in ("max_entries", "max_bytes"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(key, f"must be an integer >= 1, got {value!r}")


class _Slot:
    __slots__ = ("entry", "expires_at", "size", "tags")

    def __init__(self, entry: Entry, size: int, expires_at: float) -> None:
        self.entry = entry
        self.expires_at = expires_at
        self.size = size
        self.tags = entry.tags


class MemoryBackend:
    """LRU + TTL + byte-budget backend (see the module docstring).

    ``clock`` returns wall-clock seconds (default ``time.time``; tests inject their own).
    The ``*_nowait`` methods are the synchronous core the async API and the two-level
    backend use; they never await.
    """

    name = "memory"

    def __init__(
        self,
        config: MemoryCacheConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        codec: EntryCodec | None = None,
    ) -> None:
        self.config = config or MemoryCacheConfig()
        self._clock = clock
        self._codec = codec or EntryCodec()
        self._data: OrderedDict[str, _Slot] = OrderedDict()
        self._tags: dict[str, set[str]] = {}
        self._bytes = 0
        self._evictions = 0
        self._expirations = 0
        self._rejected = 0

    def get_nowait(self, key: str) -> Entry | None:
        """The live entry under ``key`` (marked most recently used), or None."""
        slot = self._data.get(key)
        if slot is None:
            return None
        if slot.expires_at <= self._clock():
            self._remove(key)
            self._expirations += 1
            return None
        self._data.move_to_end(key)
        return slot.entry

    def peek(self, key: str) -> Entry | None:
        """Same as :meth:`get_nowait` (everything here is local)."""
        return self.get_nowait(key)

    def set_nowait(
        self, key: str, entry: Entry, *, size: int | None = None, max_ttl: float | None = None
    ) -> bool:
        """Store ``entry`` under its tags; returns False when it alone exceeds ``max_bytes``.

        ``size`` is the entry's byte size when the caller already knows it (encoded once
        for Redis); otherwise the msgpack payload size is computed. ``max_ttl`` caps how
        long this copy lives from now (the two-level backend's L1 cap).
        """
        if size is None:
            size = self._codec.payload_size(entry)
        if size > self.config.max_bytes:
            self._rejected += 1
            self._remove(key)
            return False
        if key in self._data:
            self._remove(key)
        expires_at = entry.stored_at + entry.ttl
        if max_ttl is not None:
            expires_at = min(expires_at, self._clock() + max_ttl)
        slot = _Slot(entry, size, expires_at)
        self._data[key] = slot
        self._bytes += size
        for tag in slot.tags:
            self._tags.setdefault(tag, set()).add(key)
        self._evict()
        return True

    def delete_nowait(self, key: str) -> bool:
        """Remove ``key``; True when it was present."""
        return self._remove(key)

    def invalidate_tag_nowait(self, tag: str) -> int:
        """Remove every entry tagged ``tag``; returns how many."""
        keys = self._tags.pop(tag, set())
        return sum(self._remove(key) for key in list(keys))

    async def get(self, key: str) -> Entry | None:
        """Async form of :meth:`get_nowait`."""
        return self.get_nowait(key)

    async def set(self, key: str, entry: Entry) -> None:
        """Async form of :meth:`set_nowait`."""
        self.set_nowait(key, entry)

    async def delete(self, key: str) -> bool:
        """Async form of :meth:`delete_nowait`."""
        return self.delete_nowait(key)

    async def invalidate_tag(self, tag: str) -> int:
        """Async form of :meth:`invalidate_tag_nowait`."""
        return self.invalidate_tag_nowait(tag)

    def clear(self) -> None:
        """Drop every entry (not counted as evictions)."""
        self._data.clear()
        self._tags.clear()
        self._bytes = 0

    async def aclose(self) -> None:
        """Drop every entry."""
        self.clear()

    def __len__(self) -> int:
        return len(self._data)

    def stats(self) -> dict[str, Any]:
        """Entries, bytes, bounds, evictions, expirations and rejected entries."""
        return {
            "backend": self.name,
            "entries": len(self._data),
            "bytes": self._bytes,
            "max_entries": self.config.max_entries,
            "max_bytes": self.config.max_bytes,
            "evictions": self._evictions,
            "expirations": self._expirations,
            "rejected": self._rejected,
        }

    def _remove(self, key: str) -> bool:
        slot = self._data.pop(key, None)
        if slot is None:
            return False
        self._bytes -= slot.size
        for tag in slot.tags:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[tag]
        return True

    def _evict(self) -> None:
        limit_n, limit_b = self.config.max_entries, self.config.max_bytes
        while len(self._data) > limit_n or self._bytes > limit_b:
            key = next(iter(self._data))
            self._remove(key)
            self._evictions += 1
