"""The Redis cache backend: shared between nodes, TTL kept by the server.

Values are stored with :class:`EntryCodec` (format byte + msgpack, zstd above a threshold;
never pickle) under ``key_prefix + key`` with ``SET ... PX ttl``. A tag is a Redis set
``key_prefix + "tag:" + tag`` holding the keys that carry it; its TTL is raised to the
longest TTL of its members (``PEXPIRE NX`` then ``PEXPIRE GT``, Redis >= 7), so it never
outlives them by more than that and never dies before them.

Every operation is bounded by ``op_timeout`` (socket read, connect, waiting for a pooled
connection, and the whole call) and raises :class:`~agentrt.tools.CacheBackendError` on
timeout or connection failure; redis-py's own retries are off, so failure is reported at
once (:class:`TwoLevelBackend` decides what to do). A corrupt or unknown-format value is
deleted, counted and reported as a miss. AUTH and TLS come from the URL
(``rediss://user:password@host:6380/0``); the password never appears in ``repr``.

Example::

    backend = RedisBackend(RedisCacheConfig(url="redis://127.0.0.1:6379/0", key_prefix="rt1:"))
    await backend.set("k", Entry(value=[1, 2], stored_at=time.time(), ttl=60.0, tags=("t",)))
    (await backend.get("k")).value     # [1, 2]
    await backend.aclose()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from agentrt.errors import ConfigError
from agentrt.tools._errors import CacheDecodeError
from agentrt.tools.cache._codec import Entry
from agentrt.tools.cache._redis_config import RedisCacheConfig, redact_url
from agentrt.tools.cache._remote import RemoteBackend

__all__ = ["RedisBackend", "RedisCacheConfig", "redact_url", "redis_client"]

log = logging.getLogger("agentrt.tools.cache.redis_backend")

_DELETE_CHUNK = 500


def redis_client(cfg: RedisCacheConfig) -> aioredis.Redis:
    """A client on ``cfg.url`` whose pool waits at most ``op_timeout`` for a connection,
    with redis-py's retries off. Raises ConfigError naming ``url`` (password hidden)
    for a URL redis-py refuses."""
    try:
        pool = aioredis.BlockingConnectionPool.from_url(
            cfg.url,
            max_connections=cfg.max_connections,
            timeout=cfg.op_timeout,
            socket_timeout=cfg.op_timeout,
            socket_connect_timeout=cfg.connect_timeout,
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:  # a bad port or query: named, password hidden
        raise ConfigError("url", f"{exc} (in {redact_url(cfg.url)!r})") from None
    return aioredis.Redis(connection_pool=pool)


class RedisBackend(RemoteBackend):
    """A cache backend on one Redis server (see the module docstring).

    The client and its pool are created here and closed by :meth:`aclose`.
    """

    name = "redis"

    def __init__(self, config: RedisCacheConfig | None = None) -> None:
        self.config = config or RedisCacheConfig()
        cfg = self.config
        self._prefix = cfg.key_prefix
        self._timeout = cfg.op_timeout
        super().__init__(
            compress_threshold=cfg.compress_threshold, max_value_bytes=cfg.max_value_bytes
        )
        self._client = redis_client(cfg)

    async def get(self, key: str) -> Entry | None:
        """The entry under ``key`` or None; CacheBackendError when Redis fails."""
        self._ops += 1
        try:
            async with asyncio.timeout(self._timeout):
                blob = cast("bytes | None", await self._client.get(self._prefix + key))
        except (RedisError, OSError, TimeoutError) as exc:
            raise self._fail("get", exc) from exc
        if blob is None:
            return None
        try:
            return self._codec.decode(blob, key)
        except CacheDecodeError as exc:
            self._decode_errors += 1
            log.warning("dropping undecodable cache value: %s", exc)
            await self.delete(key)
            return None

    async def set(self, key: str, entry: Entry) -> None:
        """Store ``entry`` with the server-side TTL; CacheBackendError when Redis fails."""
        await self.set_encoded(key, self._codec.encode(entry), entry.ttl, entry.tags)

    async def set_encoded(
        self, key: str, blob: bytes, ttl: float, tags: Sequence[str] = ()
    ) -> None:
        """Store already encoded ``blob`` for ``ttl`` seconds, adding ``key`` to ``tags``."""
        self._ops += 1
        ms = max(1, int(ttl * 1000))
        full = self._prefix + key
        try:
            async with asyncio.timeout(self._timeout):
                pipe = self._client.pipeline(transaction=False)
                pipe.set(full, blob, px=ms)
                for tag in tags:
                    tag_key = self._prefix + "tag:" + tag
                    pipe.sadd(tag_key, full)
                    pipe.pexpire(tag_key, ms, nx=True)
                    pipe.pexpire(tag_key, ms, gt=True)
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            raise self._fail("set", exc) from exc

    async def delete(self, key: str) -> bool:
        """Delete ``key``; True when it existed."""
        self._ops += 1
        try:
            async with asyncio.timeout(self._timeout):
                removed: int = await self._client.delete(self._prefix + key)
        except (RedisError, OSError, TimeoutError) as exc:
            raise self._fail("delete", exc) from exc
        return removed > 0

    async def invalidate_tag(self, tag: str) -> int:
        """Delete every key tagged ``tag`` and the tag set; returns how many keys existed."""
        self._ops += 1
        tag_key = self._prefix + "tag:" + tag
        removed = 0
        try:
            async with asyncio.timeout(self._timeout * 10):
                members = list(await self._client.smembers(tag_key))
                for start in range(0, len(members), _DELETE_CHUNK):
                    removed += await self._client.delete(*members[start : start + _DELETE_CHUNK])
                await self._client.delete(tag_key)
        except (RedisError, OSError, TimeoutError) as exc:
            raise self._fail("invalidate_tag", exc) from exc
        return removed

    async def publish(self, channel: str, message: bytes) -> None:
        """Publish ``message`` on ``key_prefix + channel``; CacheBackendError on failure."""
        self._ops += 1
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.publish(self._prefix + channel, message)
        except (RedisError, OSError, TimeoutError) as exc:
            raise self._fail("publish", exc) from exc

    async def messages(self, channel: str) -> AsyncIterator[bytes]:
        """Yield the messages published on ``key_prefix + channel`` (subscribed before the
        first ``await`` returns) until the connection fails (CacheBackendError); an empty
        one first (subscribed), then after each idle second."""
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            try:
                await pubsub.subscribe(self._prefix + channel)
                yield b""  # subscribed
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None and msg.get("type") == "message":
                        yield bytes(msg["data"])
                    else:
                        yield b""  # idle: the reader may check whether it was closed
            except (RedisError, OSError, TimeoutError) as exc:
                raise self._fail("subscribe", exc) from exc
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed from redis-py 8

    async def ping(self) -> None:
        """Raise CacheBackendError unless the server answers ``PING`` within the timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            raise self._fail("ping", exc) from exc

    async def aclose(self) -> None:
        """Close the client and its connection pool."""
        await self._client.aclose()

    def stats(self) -> dict[str, Any]:
        """Operations, failed operations and dropped undecodable values."""
        pool = self._client.connection_pool
        return {
            "backend": self.name,
            "url": redact_url(self.config.url),
            "ops": self._ops,
            "errors": self._errors,
            "decode_errors": self._decode_errors,
            "max_connections": pool.max_connections,
        }

    def __repr__(self) -> str:
        return f"RedisBackend({redact_url(self.config.url)!r}, prefix={self._prefix!r})"
