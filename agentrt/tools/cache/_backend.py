"""The interface every cache backend implements (memory, Redis, two-level).

Example::

    async def warm(backend: CacheBackend) -> None:
        await backend.set("k", Entry(value=1, stored_at=time.time(), ttl=60.0))
"""

from __future__ import annotations

from typing import Any, Protocol

from agentrt.tools.cache._codec import Entry

__all__ = ["CacheBackend"]


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
