"""The semantic LLM cache's entries on Redis, so that every node sharing the Redis sees them.

One Redis stream per context key, ``key_prefix + namespace + ":sem:" + context``:
:meth:`RedisSemanticStore.push` appends an entry (``XADD ... MAXLEN max_per_context``:
the oldest go past the bound) and keeps the stream's server-side TTL at least the
entry's (``PEXPIRE NX`` then ``PEXPIRE GT``), in one transaction; :meth:`load` reads the
entries after a stream id the caller saw last (``XRANGE``, at most ``max_per_context``),
so a node reads each entry once however often it refreshes; :meth:`remove` deletes one
(``XDEL``). An entry is opaque bytes here, in the stream field ``e``
(``agentrt.llm._semshare`` encodes it: msgpack with the vector as raw float32 bytes,
never pickle); what it means, and whether it is damaged, is the caller's (a stream
entry without ``e`` is returned as ``b""``).

Every operation is bounded by the config's ``op_timeout`` and raises
:class:`~agentrt.tools.CacheBackendError` on timeout or connection failure (redis-py's
retries are off): the caller decides how to degrade.

Example::

    store = RedisSemanticStore(RedisCacheConfig(url="redis://127.0.0.1:6379/0"), "rt1")
    entry_id = await store.push("gpt-4o-mini:3f2a...", entry_bytes, ttl=600)
    await store.load("gpt-4o-mini:3f2a...")            # [(entry_id, entry_bytes), ...]
    await store.load("gpt-4o-mini:3f2a...", after=entry_id)   # only newer ones
    await store.aclose()
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import RedisError

from agentrt.bounds import Bounds
from agentrt.tools.cache._redis_backend import redis_client
from agentrt.tools.cache._redis_config import RedisCacheConfig, redact_url
from agentrt.tools.cache._remote import backend_failure

__all__ = ["RedisSemanticStore"]


class RedisSemanticStore:
    """Semantic entries by context on one Redis (see the module docs). ``namespace``: the
    cache's (``CacheConfig.namespace``); ``max_per_context``: the most entries kept and
    loaded per context (default 1,000; 1 to 100,000; a ``ConfigError`` naming it
    otherwise). Owns its client (:meth:`aclose`)."""

    name = "redis"

    def __init__(
        self, config: RedisCacheConfig, namespace: str, *, max_per_context: int = 1000
    ) -> None:
        self.config = config
        self.max_per_context = Bounds(low=1, high=100_000).check(
            max_per_context, "max_per_context", int
        )
        self._prefix = f"{config.key_prefix}{namespace}:sem:"
        self._client = redis_client(config)
        self.ops = 0
        self.errors = 0

    async def push(self, context: str, entry: bytes, *, ttl: float) -> bytes:
        """Append ``entry`` to ``context``'s stream (trimmed to the bound) and keep the
        stream alive at least ``ttl`` seconds; the entry's stream id."""
        ms = max(1, int(ttl * 1000))
        key = self._prefix + context

        async def run() -> bytes:
            pipe = self._client.pipeline(transaction=True)
            pipe.xadd(key, {"e": entry}, maxlen=self.max_per_context, approximate=False)
            pipe.pexpire(key, ms, nx=True)
            pipe.pexpire(key, ms, gt=True)
            added: bytes = (await pipe.execute())[0]
            return added

        found: bytes = await self._op("push", run())
        return found

    async def load(self, context: str, *, after: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """``context``'s entries (stream id, bytes), oldest first, at most
        ``max_per_context``: all of them, or those added after the id ``after``."""
        low = "-" if after is None else b"(" + after
        found = await self._op(
            "load", self._client.xrange(self._prefix + context, low, "+", self.max_per_context)
        )
        return [(entry_id, fields.get(b"e", b"")) for entry_id, fields in found]

    async def remove(self, context: str, entry_id: bytes) -> int:
        """Drop the entry ``entry_id`` from ``context``'s stream; 1 when it was there."""
        removed: int = await self._op("remove", self._client.xdel(self._prefix + context, entry_id))
        return removed

    async def _op(self, operation: str, call: Any) -> Any:
        self.ops += 1
        try:
            async with asyncio.timeout(self.config.op_timeout):
                return await call
        except (RedisError, OSError, TimeoutError) as exc:
            self.errors += 1
            raise backend_failure(self.name, operation, exc) from exc

    async def aclose(self) -> None:
        """Close the client and its connection pool."""
        await self._client.aclose()

    def stats(self) -> dict[str, Any]:
        """Where (password hidden), the bound, operations and failed operations."""
        return {
            "backend": self.name,
            "url": redact_url(self.config.url),
            "max_per_context": self.max_per_context,
            "ops": self.ops,
            "errors": self.errors,
        }
