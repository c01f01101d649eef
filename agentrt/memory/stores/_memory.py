"""``MemoryStore``: the in-process default store (a bounded dict of bytes with TTLs).

Nothing leaves the process, so it survives neither a crash nor a restart: it is the
default for tests and for agents whose memory need not outlive the node. Bounded by
``max_bytes`` (default 256 MiB of values): a put that would exceed it raises
:class:`~agentrt.memory._errors.StoreError` rather than dropping data silently.

Example::

    store = MemoryStore(max_bytes=64 * 1024 * 1024)
    await store.put("k", b"v", ttl=60)
    assert await store.get("k") == b"v"
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from agentrt.errors import ArgumentTypeError, ConfigError
from agentrt.memory._errors import StoreError
from agentrt.memory.stores._base import OpTimings, timed

__all__ = ["MemoryStore"]


class MemoryStore:
    """A dict of bytes with optional TTLs, bounded by ``max_bytes``. Never awaits I/O."""

    name = "memory"

    def __init__(self, *, max_bytes: int = 256 * 1024 * 1024) -> None:
        if max_bytes <= 0:
            raise ConfigError("max_bytes", f"must be > 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self._data: dict[str, bytes] = {}
        #: the keys put with a TTL -> when they expire (``time.monotonic()``); a separate
        #: dict so that a key without one costs no (value, expiry) tuple
        self._expires: dict[str, float] = {}
        self._bytes = 0
        self._ops = 0
        self.timings = OpTimings()

    def _live(self, key: str) -> bytes | None:
        value = self._data.get(key)
        if value is None:
            return None
        if self._expires:
            expires = self._expires.get(key)
            if expires is not None and expires <= time.monotonic():
                self._drop(key)
                return None
        return value

    def _drop(self, key: str) -> None:
        value = self._data.pop(key, None)
        if value is not None:
            self._bytes -= len(value)
            if self._expires:
                self._expires.pop(key, None)

    def _set(self, key: str, value: bytes, ttl: float | None) -> None:
        if not isinstance(value, bytes):
            raise ArgumentTypeError(
                "value", f"store values are bytes, got {type(value).__name__} for {key!r}"
            )
        old = self._data.get(key)
        grown = len(value) - (len(old) if old is not None else 0)
        if self._bytes + grown > self.max_bytes:
            raise StoreError("memory", "put", key, f"full ({self.max_bytes} bytes)")
        self._bytes += grown
        self._data[key] = value
        if ttl:
            self._expires[key] = time.monotonic() + ttl
        elif self._expires:
            self._expires.pop(key, None)

    @timed("get")
    async def get(self, key: str) -> bytes | None:
        """The value at ``key`` or ``None``."""
        self._ops += 1
        return self._live(key)

    @timed("get_many")
    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The present values among ``keys``."""
        self._ops += 1
        out = {}
        for key in keys:
            value = self._live(key)
            if value is not None:
                out[key] = value
        return out

    @timed("put")
    async def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value``; raises ``StoreError`` when ``max_bytes`` would be exceeded."""
        self._ops += 1
        self._set(key, value, ttl)

    @timed("put_many")
    async def put_many(self, items: Mapping[str, bytes], ttl: float | None = None) -> None:
        """Store all ``items`` (all or none when the bound would be exceeded)."""
        self._ops += 1
        grown = sum(len(v) - len(self._data.get(k, b"")) for k, v in items.items())
        if self._bytes + grown > self.max_bytes:
            raise StoreError("memory", "put_many", next(iter(items), ""), "full")
        for key, value in items.items():
            self._set(key, value, ttl)

    @timed("delete")
    async def delete(self, *keys: str) -> None:
        """Remove ``keys``."""
        self._ops += 1
        for key in keys:
            self._drop(key)

    @timed("keys")
    async def keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``."""
        self._ops += 1
        return [k for k in self._data if k.startswith(prefix)]

    @timed("rename_many")
    async def rename_many(self, renames: Mapping[str, str]) -> None:
        """Move values (and their expiry) to new keys."""
        self._ops += 1
        for old, new in renames.items():
            value = self._data.pop(old, None)  # its bytes stay counted, under ``new``
            if value is not None:
                expires = self._expires.pop(old, None)
                self._drop(new)
                self._data[new] = value
                if expires is not None:
                    self._expires[new] = expires

    def stored_keys(self) -> list[str]:
        """Every key held (expired ones included until read); for tests and tools."""
        return list(self._data)

    def stats(self) -> dict[str, Any]:
        """Keys held, bytes held, the bound, the operation count and latencies."""
        return {
            "backend": self.name,
            "keys": len(self._data),
            "bytes": self._bytes,
            "max_bytes": self.max_bytes,
            "ops": self._ops,
            "latency": self.timings.view(),
        }

    async def aclose(self) -> None:
        """Nothing to release; the data stays readable."""
