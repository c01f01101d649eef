"""The interface every cache backend implements (memory, Redis, two-level).

Example::

    async def warm(backend: CacheBackend) -> None:
        await backend.set("k", Entry(value=1, stored_at=time.time(), ttl=60.0))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol, runtime_checkable

from agentrt.tools.cache._codec import Entry, EntryCodec

__all__ = ["Broadcaster", "CacheBackend", "SharedBackend"]


class CacheBackend(Protocol):
    """Storage for :class:`Entry` values under string keys, with tag invalidation.

    ``get`` returns None for a missing or expired key. Backends may raise
    :class:`~agentrt.tools.CacheBackendError`; :class:`ResultCache` counts such errors and
    treats them as a miss (or a skipped write).
    """

    name: str

    def peek(self, key: str) -> Entry | None:
        """The entry if a local (in-process) level has it, without awaiting; else None.
        :class:`ResultCache` serves these hits directly and sends the rest through
        single-flight, so concurrent misses on one key cost one remote read."""
        ...

    async def get(self, key: str) -> Entry | None: ...

    async def set(self, key: str, entry: Entry) -> None: ...

    async def delete(self, key: str) -> bool: ...

    async def invalidate_tag(self, tag: str) -> int: ...

    async def aclose(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...


class SharedBackend(CacheBackend, Protocol):
    """A backend shared between nodes that :class:`TwoLevelBackend` can put behind its
    memory level (Redis, memcached): it takes pre-encoded values and answers a probe."""

    @property
    def codec(self) -> EntryCodec: ...

    async def set_encoded(
        self, key: str, blob: bytes, ttl: float, tags: Sequence[str] = ()
    ) -> None: ...

    async def ping(self) -> None: ...


@runtime_checkable
class Broadcaster(Protocol):
    """A shared backend that also carries messages between nodes (Redis pub/sub);
    :class:`TwoLevelBackend` broadcasts invalidations only through one of these."""

    async def publish(self, channel: str, message: bytes) -> None: ...

    def messages(self, channel: str) -> AsyncIterator[bytes]: ...
