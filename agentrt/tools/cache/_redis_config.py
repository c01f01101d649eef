"""Settings of the Redis cache backend, apart from it so that they cost no redis import.

``RedisCacheConfig`` is part of every runtime's configuration; ``RedisBackend`` (in
``redis_backend``, which imports redis-py) is loaded only when a cache uses Redis.

Example: ``RedisCacheConfig(url="rediss://:s3cret@cache:6380/0", op_timeout=0.1)``
"""

from __future__ import annotations

from dataclasses import dataclass

from agentrt.errors import ConfigError
from agentrt.redact import config_repr, redact_url

__all__ = ["RedisCacheConfig", "redact_url"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisCacheConfig:
    """Connection and format settings of a :class:`RedisBackend`.

    - ``url``: ``redis://`` or ``rediss://`` (TLS) URL, credentials included
      (default ``"redis://127.0.0.1:6379/0"``); redacted in ``repr``.
    - ``key_prefix``: prepended to every key and tag set (default ``""``; the cache's
      namespace is already part of each key).
    - ``op_timeout``: seconds one operation may take before it counts as failed
      (default 0.2: a slow Redis is treated like an absent one).
    - ``connect_timeout``: seconds to open a connection (default 0.5).
    - ``max_connections``: pooled connections (default 32); callers wait for one for at
      most ``op_timeout``.
    - ``compress_threshold``: zstd above this many payload bytes (default 1024).
    - ``max_value_bytes``: largest value decoded (default 8 MiB).

    Example: ``RedisCacheConfig(url="rediss://:s3cret@cache:6380/0", op_timeout=0.1)``
    """

    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = ""
    op_timeout: float = 0.2
    connect_timeout: float = 0.5
    max_connections: int = 32
    compress_threshold: int = 1024
    max_value_bytes: int = 8 << 20

    def __post_init__(self) -> None:
        if not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                "url", f"must be a redis://, rediss:// or unix:// URL, got {redact_url(self.url)!r}"
            )
        for key in ("op_timeout", "connect_timeout"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or not 0 < value < 3600:
                raise ConfigError(key, f"must be a number of seconds > 0, got {value!r}")
        for key in ("max_connections", "max_value_bytes"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(key, f"must be an integer >= 1, got {value!r}")
        if not isinstance(self.compress_threshold, int) or self.compress_threshold < 0:
            raise ConfigError(
                "compress_threshold", f"must be an integer >= 0, got {self.compress_threshold!r}"
            )

    __repr__ = config_repr  # the URL's password is masked
