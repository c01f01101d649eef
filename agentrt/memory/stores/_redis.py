"""``RedisStore``: conversation memory in Redis (``redis.asyncio``), shared between nodes.

Keys are namespaced: every key is written as ``{prefix}{key}`` (default prefix
``"agentrt:mem:"``), so one Redis can hold several deployments and nothing outside the
prefix is ever touched. Values are framed and zstd-compressed
(:func:`~agentrt.memory.stores._base.frame_value`); nothing is pickled, and a value that does
not unframe raises :class:`~agentrt.memory._errors.CorruptSnapshot` naming the key.
``ttl`` (seconds) maps to ``SET ... PX``. ``put_many`` is atomic: one ``MSET``, or with a
``ttl`` one ``MULTI``/``EXEC`` pipeline; ``get_many`` is one ``MGET``. ``put_fenced`` and
``put_many_fenced`` write only when their :class:`~agentrt.memory.Fence` token is not stale
(one Lua script: check and write are one step) and raise
:class:`~agentrt.memory.StaleWrite` otherwise; without a fence, writes are plain ``SET``s.
The connection pool is bounded (``max_connections``, default 64: a node that passivates
thousands of agents at once, in a drain or an idle sweep, has its turns' writes wait
behind those snapshot writes for a connection; with 16, a drain of 4,000 agents under load
failed turns on the ``socket_timeout`` while they waited).
Redis failures raise :class:`~agentrt.memory._errors.StoreError`, and so does an operation
that has not finished within ``socket_timeout`` seconds (default 5), whatever it waits for
(a pooled connection, a connect, a reply): a caller never waits longer on a Redis that
is down or hangs. redis-py's own retries are off; the caller (e.g. the write-behind
:class:`~agentrt.memory.Journal`) decides whether to retry.

Example::

    store = RedisStore("redis://127.0.0.1:6379/0", prefix="prod:mem:", ttl=None)
    await store.put("conv/1/head", data)
    await store.aclose()
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
import zstandard
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from agentrt.errors import ConfigError, InvalidArgument
from agentrt.memory._errors import CorruptSnapshot, StaleWrite, StoreError
from agentrt.memory.stores._base import OpTimings, frame_value, timed, unframe_value
from agentrt.memory.stores._fencing import FENCED_WRITE, Fence, fenced_call
from agentrt.redact import redact_url

__all__ = ["RedisStore"]


class RedisStore:
    """Namespaced, compressed key-value storage in Redis over a bounded connection pool."""

    name = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "agentrt:mem:",
        max_connections: int = 64,
        compress_min: int = 256,
        socket_timeout: float = 5.0,
    ) -> None:
        if max_connections < 1:
            raise ConfigError("max_connections", f"must be >= 1, got {max_connections}")
        if not (isinstance(socket_timeout, int | float) and 0 < socket_timeout < math.inf):
            raise ConfigError("socket_timeout", f"must be > 0 seconds, got {socket_timeout!r}")
        if not prefix:
            raise ConfigError("prefix", "must not be empty (keys are namespaced)")
        self.prefix = prefix
        self._compress_min = compress_min
        # Blocking: a caller waits (up to socket_timeout) for a free connection rather than
        # failing with MaxConnectionsError when more coroutines than connections write.
        try:
            self._pool = aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                socket_timeout=socket_timeout,
                timeout=socket_timeout,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:  # a bad scheme, port or query: named, password hidden
            raise ConfigError("url", f"{exc} (in {redact_url(url)!r})") from None
        self._client = aioredis.Redis(connection_pool=self._pool)
        self._fenced = self._client.register_script(FENCED_WRITE)
        self._timeout = float(socket_timeout)
        self._compressor = zstandard.ZstdCompressor(level=3)
        self._decompressor = zstandard.ZstdDecompressor()
        self._ops = 0
        self._errors = 0
        self.timings = OpTimings()

    def __repr__(self) -> str:  # the URL may carry a password: never show it
        return f"RedisStore(prefix={self.prefix!r})"

    def _fail(self, operation: str, key: str, exc: Exception) -> StoreError:
        self._errors += 1
        if isinstance(exc, TimeoutError) and not isinstance(exc, RedisError):
            return StoreError("redis", operation, key, f"no answer within {self._timeout:g} s")
        return StoreError("redis", operation, key, f"{type(exc).__name__}: {exc}")

    @timed("get")
    async def get(self, key: str) -> bytes | None:
        """The value at ``key`` or ``None``."""
        self._ops += 1
        try:
            async with asyncio.timeout(self._timeout):
                data = await self._client.get(self.prefix + key)
        except (RedisError, TimeoutError) as exc:
            raise self._fail("get", key, exc) from exc
        return None if data is None else unframe_value(key, _bytes(key, data), self._decompressor)

    @timed("get_many")
    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The present values among ``keys`` (one ``MGET``)."""
        wanted = list(keys)
        if not wanted:
            return {}
        self._ops += 1
        try:
            async with asyncio.timeout(self._timeout):
                values = await self._client.mget([self.prefix + k for k in wanted])
        except (RedisError, TimeoutError) as exc:
            raise self._fail("get_many", wanted[0], exc) from exc
        return {
            k: unframe_value(k, _bytes(k, v), self._decompressor)
            for k, v in zip(wanted, values, strict=True)
            if v is not None
        }

    @timed("put")
    async def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """``SET`` ``value`` at ``key`` (``PX`` when ``ttl`` is given)."""
        self._ops += 1
        data = frame_value(value, self._compressor, self._compress_min)
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.set(self.prefix + key, data, px=_px(ttl))
        except (RedisError, TimeoutError) as exc:
            raise self._fail("put", key, exc) from exc

    @timed("put_many")
    async def put_many(self, items: Mapping[str, bytes], ttl: float | None = None) -> None:
        """Store ``items`` atomically: one ``MSET`` without ``ttl`` (one command and one reply,
        where a ``MULTI``/``SET``.../``EXEC`` pipeline has n + 2 of each), that pipeline with
        one."""
        if not items:
            return
        self._ops += 1
        px = _px(ttl)
        framed = {
            self.prefix + k: frame_value(v, self._compressor, self._compress_min)
            for k, v in items.items()
        }
        try:
            async with asyncio.timeout(self._timeout):
                if px is None:
                    await self._client.mset(framed)
                    return
                async with self._client.pipeline(transaction=True) as pipe:
                    for key, data in framed.items():
                        pipe.set(key, data, px=px)
                    await pipe.execute()
        except (RedisError, TimeoutError) as exc:
            raise self._fail("put_many", next(iter(items)), exc) from exc

    async def put_fenced(
        self, key: str, value: bytes, fence: Fence, ttl: float | None = None
    ) -> None:
        """``put`` under ``fence``: see :meth:`put_many_fenced`."""
        await self.put_many_fenced({key: value}, fence, ttl)

    @timed("fenced_write")
    async def put_many_fenced(
        self,
        items: Mapping[str, bytes],
        fence: Fence,
        ttl: float | None = None,
        *,
        delete: Sequence[str] = (),
    ) -> None:
        """Store ``items`` and delete ``delete`` in one script run, only if ``fence.token``
        is not older than the token in the directory entry ``fence.key``; otherwise
        nothing is written and :class:`~agentrt.memory.StaleWrite` is raised (the first key
        named). In a Redis Cluster every key must share the entry's hash slot (the
        ``{agent:<id>}`` hash tag: ``agentrt.cluster.ClusterKeys.agent_tag``)."""
        if not items and not delete:
            return
        self._ops += 1
        first = next(iter(items), None) or delete[0]
        framed = {
            self.prefix + k: frame_value(v, self._compressor, self._compress_min)
            for k, v in items.items()
        }
        keys, args = fenced_call(
            fence.key, fence.token, framed, [self.prefix + k for k in delete], _px(ttl)
        )
        try:
            async with asyncio.timeout(self._timeout):
                done, current = await self._fenced(keys=keys, args=args)
        except (RedisError, TimeoutError) as exc:
            raise self._fail("fenced write", first, exc) from exc
        if done != 1:
            self._errors += 1
            raise StaleWrite("redis", first, fence.token, int(current))

    @timed("delete")
    async def delete(self, *keys: str) -> None:
        """``DEL`` ``keys``."""
        if not keys:
            return
        self._ops += 1
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.delete(*(self.prefix + k for k in keys))
        except (RedisError, TimeoutError) as exc:
            raise self._fail("delete", keys[0], exc) from exc

    @timed("keys")
    async def keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix`` (``SCAN MATCH``, the prefix glob-escaped)."""
        self._ops += 1
        pattern = _glob_escape(self.prefix + prefix) + "*"
        cut = len(self.prefix)
        try:
            found = [k async for k in self._client.scan_iter(match=pattern, count=500)]
        except RedisError as exc:
            raise self._fail("keys", prefix, exc) from exc
        return [k.decode("utf-8", "surrogateescape")[cut:] for k in found]

    @timed("rename_many")
    async def rename_many(self, renames: Mapping[str, str]) -> None:
        """``RENAME`` every key in one ``MULTI``/``EXEC`` (values and TTLs move as stored;
        an absent key is skipped)."""
        if not renames:
            return
        self._ops += 1
        try:
            async with (
                asyncio.timeout(self._timeout),
                self._client.pipeline(transaction=True) as pipe,
            ):
                for old, new in renames.items():
                    pipe.rename(self.prefix + old, self.prefix + new)
                results = await pipe.execute(raise_on_error=False)
        except (RedisError, TimeoutError) as exc:
            raise self._fail("rename", next(iter(renames)), exc) from exc
        for (old, _), result in zip(renames.items(), results, strict=True):
            if isinstance(result, Exception) and "no such key" not in str(result).lower():
                raise self._fail("rename", old, result)

    def stats(self) -> dict[str, Any]:
        """Prefix, operations, errors, the pool's bound and latencies."""
        return {
            "backend": self.name,
            "prefix": self.prefix,
            "ops": self._ops,
            "errors": self._errors,
            "max_connections": self._pool.max_connections,
            "latency": self.timings.view(),
        }

    async def aclose(self) -> None:
        """Close the client and disconnect the pool. Idempotent."""
        await self._client.aclose()
        await self._pool.disconnect()


def _bytes(key: str, data: object) -> bytes:
    if not isinstance(data, bytes):  # decode_responses=True on a shared pool, or garbage
        raise CorruptSnapshot(key, f"Redis returned {type(data).__name__}, not bytes")
    return data


def _glob_escape(text: str) -> str:
    """``text`` with Redis glob metacharacters escaped (a prefix may contain ``*``)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _px(ttl: float | None) -> int | None:
    if ttl is None:
        return None
    if ttl <= 0:
        raise InvalidArgument("ttl", f"ttl must be > 0 seconds or None, got {ttl}")
    return max(1, int(ttl * 1000))
