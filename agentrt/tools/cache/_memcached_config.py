"""Settings of the memcached cache backend, apart from it so that they cost no emcache import.

``MemcachedCacheConfig`` is part of every runtime's configuration; ``MemcachedBackend`` (in
``_memcached_backend``, which imports emcache) is loaded only when a cache uses memcached.

Example: ``MemcachedCacheConfig(url="memcached://cache:11211", op_timeout=0.1)``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.redact import config_repr, redact_url

__all__ = ["MEMCACHED_ITEM_LIMIT", "MemcachedCacheConfig"]

#: memcached's default largest item (``-I 1m``): key, flags and value together.
MEMCACHED_ITEM_LIMIT = 1 << 20

_TIMEOUT = Bounds(low=0, open_low=True, high=3600, unit=" s")


@dataclass(frozen=True, kw_only=True, slots=True)
class MemcachedCacheConfig:
    """Connection and format settings of a :class:`MemcachedBackend`.

    - ``url``: ``memcached://host:port`` (default ``"memcached://127.0.0.1:11211"``; port
      11211 when left out). No path, query or credentials: memcached's text protocol has
      no AUTH.
    - ``key_prefix``: prepended to every key and tag counter (default ``""``; the cache's
      namespace is already part of each key). Keys that do not fit memcached's rules
      (250 bytes, no spaces or control characters) are hashed (docs/tools.md).
    - ``op_timeout``: seconds one operation may take before it counts as failed, waiting
      for a connection included (default 0.2: a slow server is treated like an absent one).
    - ``connect_timeout``: seconds to open a connection (default 0.5).
    - ``max_connections``: pooled connections (default 32).
    - ``compress_threshold``: zstd above this many payload bytes (default 1024).
    - ``max_item_bytes``: the largest value written (default 1 MiB, memcached's own item
      limit ``-I``); a larger one is refused with ``CacheValueTooLarge`` before it is sent.
    - ``max_value_bytes``: largest value decoded (default 8 MiB).

    Example: ``MemcachedCacheConfig(url="memcached://cache:11211", op_timeout=0.1)``
    """

    url: str = "memcached://127.0.0.1:11211"
    key_prefix: str = ""
    op_timeout: Annotated[float, _TIMEOUT] = 0.2
    connect_timeout: Annotated[float, _TIMEOUT] = 0.5
    max_connections: Annotated[int, Bounds(low=1, high=10_000)] = 32
    compress_threshold: Annotated[int, Bounds(low=0, high=1 << 30)] = 1024
    max_item_bytes: Annotated[int, Bounds(low=64, high=1 << 30)] = MEMCACHED_ITEM_LIMIT
    max_value_bytes: Annotated[int, Bounds(low=1, high=1 << 40)] = 8 << 20

    def __post_init__(self) -> None:
        check_fields(self)  # NaN, inf, bools, negatives and the absurd
        self.address  # noqa: B018  (raises ConfigError for a bad URL)
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in self.key_prefix):
            raise ConfigError("key_prefix", "must not hold spaces or control characters")
        if len(self.key_prefix.encode()) > 100:
            raise ConfigError("key_prefix", "must be at most 100 bytes (keys are 250)")

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of the URL; ConfigError naming ``url`` when it is not one."""
        shown = redact_url(self.url)
        if not self.url.startswith("memcached://"):
            raise ConfigError("url", f"must be a memcached://host:port URL, got {shown!r}")
        try:
            parts = urlsplit(self.url)
            port = parts.port or 11211
        except ValueError as exc:
            raise ConfigError("url", f"{exc} (in {shown!r})") from None
        if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.username:
            raise ConfigError(
                "url", f"must be memcached://host:port and nothing else, got {shown!r}"
            )
        return parts.hostname, port

    __repr__ = config_repr  # a URL's password (refused anyway) is masked
