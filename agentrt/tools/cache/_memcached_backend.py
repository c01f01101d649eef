"""The memcached cache backend: shared between nodes, TTL kept by the server.

**Client.** emcache (async, per-operation timeouts built in). aiomcache was measured beside
it and is as fast, but a call cancelled by a timeout hands its connection back to the pool
with the reply still unread, so the next call on it reads the wrong answer; emcache drops
such a connection (figures and method in docs/tools.md).

**Keys.** memcached keys are at most 250 bytes of printable ASCII without spaces. A cache
key ``k`` is stored as ``key_prefix + "k:" + k`` when that fits those rules, else as
``key_prefix + "hk:" + blake2b-160(k)`` (40 hex digits); tag counters likewise with
``t:``/``ht:``. The two forms never collide (they differ right after the prefix).

**Values.** ``[0x4D, n (2 bytes), n tag stamps (8 bytes each), EntryCodec bytes]``. A value
over ``max_item_bytes`` (1 MiB, memcached's default ``-I``) is refused before it is sent
with :class:`~agentrt.tools.CacheValueTooLarge`; nothing is chunked. A value that cannot be
decoded is deleted, counted (``decode_errors``), logged and reported as a miss.

**Tags.** memcached cannot list keys, so a tag is a generation counter (a decimal under the
tag's key, created at the current time in microseconds): an entry stores the counters of its
tags when written, and a read whose stamps differ from the current counters (or whose tag
counter is gone, e.g. evicted) is a miss. ``invalidate_tag`` is one ``incr``; it returns 1
when the tag existed, else 0 (memcached cannot count the entries). A tagged hit costs one
more round trip (a multi-get of its tag counters).

Every operation is bounded by ``op_timeout`` (waiting for a connection, connecting, the
reply) and raises :class:`~agentrt.tools.CacheBackendError` on timeout or connection failure
(:class:`TwoLevelBackend` decides what to do). The client is created on first use.

Example::

    backend = MemcachedBackend(MemcachedCacheConfig(url="memcached://127.0.0.1:11211"))
    await backend.set("k", Entry(value=[1, 2], stored_at=time.time(), ttl=60.0, tags=("t",)))
    (await backend.get("k")).value     # [1, 2]
    await backend.aclose()
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
import time
from collections.abc import Sequence
from hashlib import blake2b
from typing import Any

import emcache

from agentrt.errors import NotRunning
from agentrt.tools._errors import CacheDecodeError, CacheValueTooLarge
from agentrt.tools.cache._codec import Entry
from agentrt.tools.cache._memcached_config import MemcachedCacheConfig
from agentrt.tools.cache._redis_config import redact_url
from agentrt.tools.cache._remote import RemoteBackend

__all__ = ["MemcachedBackend", "MemcachedCacheConfig", "memcached_key"]

log = logging.getLogger("agentrt.tools.cache.memcached_backend")

_MAGIC = 0x4D
_HEAD = struct.Struct(">BH")
_STAMP = struct.Struct(">Q")
_KEY_LIMIT = 250
_MAX_RELATIVE = 30 * 86_400  # memcached reads a larger exptime as a Unix time
_FAILURES = (emcache.CommandError, emcache.ClusterNoAvailableNodes, OSError, TimeoutError)


def memcached_key(prefix: str, kind: str, name: str) -> bytes:
    """The memcached key of ``name`` (``kind`` ``"k"`` for entries, ``"t"`` for tag
    counters): readable when it fits memcached's rules, else hashed (module docstring)."""
    raw = f"{prefix}{kind}:{name}"
    if len(raw) <= _KEY_LIMIT and raw.isascii() and raw.isprintable() and " " not in raw:
        return raw.encode()  # ASCII: one byte a character; printable: no control bytes
    digest = blake2b(name.encode(), digest_size=20).hexdigest()
    return f"{prefix}h{kind}:{digest}".encode()


def _exptime(ttl: float) -> int:
    seconds = max(1, math.ceil(ttl))
    return seconds if seconds <= _MAX_RELATIVE else int(time.time()) + seconds


class MemcachedBackend(RemoteBackend):
    """A cache backend on one memcached server (see the module docstring).

    The client is created on first use and closed by :meth:`aclose`; a closed backend
    raises ``NotRunning``.
    """

    name = "memcached"

    def __init__(self, config: MemcachedCacheConfig | None = None) -> None:
        self.config = config or MemcachedCacheConfig()
        cfg = self.config
        self._address = emcache.MemcachedHostAddress(*cfg.address)
        super().__init__(
            compress_threshold=cfg.compress_threshold, max_value_bytes=cfg.max_value_bytes
        )
        self._client: emcache.Client | None = None
        self._opening = asyncio.Lock()
        self._closed = False
        self._stale = 0
        self._too_large = 0

    def _key(self, key: str) -> bytes:
        return memcached_key(self.config.key_prefix, "k", key)

    def _tag_key(self, tag: str) -> bytes:
        return memcached_key(self.config.key_prefix, "t", tag)

    async def _open(self) -> emcache.Client:
        if self._closed:
            raise NotRunning("MemcachedBackend", "the memcached backend is closed")
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    cfg = self.config
                    self._client = await emcache.create_client(
                        [self._address],
                        timeout=cfg.op_timeout,
                        connection_timeout=cfg.connect_timeout,
                        max_connections=cfg.max_connections,
                        min_connections=1,
                    )
        return self._client

    async def get(self, key: str) -> Entry | None:
        """The live entry under ``key`` or None (also for stale tags or an undecodable
        value); CacheBackendError when memcached fails."""
        self._ops += 1
        client = self._client if self._client is not None else await self._open()
        try:
            item = await client.get(self._key(key))
        except _FAILURES as exc:
            raise self._fail("get", exc) from exc
        if item is None or item.value is None:
            return None
        try:
            stamps, entry = self._unwrap(item.value, key)
        except CacheDecodeError as exc:
            self._decode_errors += 1
            log.warning("dropping undecodable cache value: %s", exc)
            await self.delete(key)
            return None
        if entry.remaining(time.time()) <= 0:  # memcached's expiry is whole seconds
            return None
        if entry.tags and stamps != await self._stamps(client, entry.tags, create=False):
            self._stale += 1
            return None
        return entry

    def _unwrap(self, blob: bytes, key: str) -> tuple[list[int], Entry]:
        if len(blob) < _HEAD.size or blob[0] != _MAGIC:
            raise CacheDecodeError("not a memcached cache value (bad header)", key)
        _, count = _HEAD.unpack_from(blob)
        body = _HEAD.size + count * _STAMP.size
        if len(blob) < body:
            raise CacheDecodeError("truncated tag stamps", key)
        stamps = [_STAMP.unpack_from(blob, _HEAD.size + i * _STAMP.size)[0] for i in range(count)]
        entry = self._codec.decode(blob[body:], key)
        if len(entry.tags) != count:
            raise CacheDecodeError(f"{count} tag stamps for {len(entry.tags)} tags", key)
        return stamps, entry

    async def _stamps(
        self, client: emcache.Client, tags: Sequence[str], *, create: bool
    ) -> list[int | None]:
        """The current counter of each tag (None when absent and not ``create``)."""
        keys = [self._tag_key(tag) for tag in tags]
        try:
            if len(keys) == 1:  # the usual case (a tool's tag): a plain GET, no fan-out
                item = await client.get(keys[0])
                found = {} if item is None else {keys[0]: item}
            else:
                found = await client.get_many(keys)
            out: list[int | None] = []
            for tag_key in keys:
                item = found.get(tag_key)
                value = _counter(item.value if item is not None else None)
                if value is None and create:
                    value = await self._create_counter(client, tag_key)
                out.append(value)
        except _FAILURES as exc:
            raise self._fail("get tags", exc) from exc
        return out

    async def _create_counter(self, client: emcache.Client, tag_key: bytes) -> int | None:
        start = time.time_ns() // 1000
        try:
            await client.add(tag_key, str(start).encode())
        except emcache.NotStoredStorageCommandError:  # another writer created it first
            item = await client.get(tag_key)
            return _counter(item.value if item is not None else None)
        return start

    async def set(self, key: str, entry: Entry) -> None:
        """Store ``entry`` with the server-side TTL; CacheValueTooLarge over
        ``max_item_bytes``, CacheBackendError when memcached fails."""
        await self.set_encoded(key, self._codec.encode(entry), entry.ttl, entry.tags)

    async def set_encoded(
        self, key: str, blob: bytes, ttl: float, tags: Sequence[str] = ()
    ) -> None:
        """Store already encoded ``blob`` for ``ttl`` seconds, stamped with ``tags``'
        current counters (created when missing)."""
        self._ops += 1
        limit = self.config.max_item_bytes
        full = self._key(key)
        size = len(blob) + _HEAD.size + len(tags) * _STAMP.size + len(full)
        if size > limit:
            self._too_large += 1
            raise CacheValueTooLarge(self.name, key, size, limit)
        client = await self._open()
        stamps = await self._stamps(client, tags, create=True)
        if any(stamp is None for stamp in stamps):  # a tag counter vanished meanwhile
            return
        head = _HEAD.pack(_MAGIC, len(tags)) + b"".join(_STAMP.pack(s or 0) for s in stamps)
        try:
            await client.set(full, head + blob, exptime=_exptime(ttl))
        except emcache.StorageCommandError as exc:
            if "too large" in str(exc):  # the server's -I is below max_item_bytes
                self._too_large += 1
                raise CacheValueTooLarge(self.name, key, size, limit) from exc
            raise self._fail("set", exc) from exc
        except _FAILURES as exc:
            raise self._fail("set", exc) from exc

    async def delete(self, key: str) -> bool:
        """Delete ``key``; True when it existed."""
        self._ops += 1
        client = await self._open()
        try:
            await client.delete(self._key(key))
        except emcache.NotFoundCommandError:
            return False
        except _FAILURES as exc:
            raise self._fail("delete", exc) from exc
        return True

    async def invalidate_tag(self, tag: str) -> int:
        """Make every entry tagged ``tag`` stale (one ``incr``); 1 when the tag existed,
        else 0."""
        self._ops += 1
        client = await self._open()
        try:
            await client.increment(self._tag_key(tag), 1)
        except emcache.NotFoundCommandError:
            return 0
        except _FAILURES as exc:
            raise self._fail("invalidate_tag", exc) from exc
        return 1

    async def ping(self) -> None:
        """Raise CacheBackendError unless the server answers ``version`` in time."""
        client = await self._open()
        try:
            await client.version(self._address)
        except _FAILURES as exc:
            raise self._fail("ping", exc) from exc

    async def aclose(self) -> None:
        """Close the client and its connections; idempotent."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def stats(self) -> dict[str, Any]:
        """Operations, failed operations, dropped undecodable values, reads made stale by a
        tag, and values refused for size."""
        return {
            "backend": self.name,
            "url": redact_url(self.config.url),
            "ops": self._ops,
            "errors": self._errors,
            "decode_errors": self._decode_errors,
            "stale_reads": self._stale,
            "too_large": self._too_large,
            "max_connections": self.config.max_connections,
        }

    def __repr__(self) -> str:
        prefix = self.config.key_prefix
        return f"MemcachedBackend({redact_url(self.config.url)!r}, prefix={prefix!r})"


def _counter(value: bytes | None) -> int | None:
    """A tag counter's value; None when absent or not a decimal (treated as gone)."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value)
