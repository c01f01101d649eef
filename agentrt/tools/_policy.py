"""Per-tool policies: timeout, concurrency, and how results are cached.

Frozen, keyword-only config objects; every field has a default and is checked in
``__post_init__`` (a :class:`~agentrt.errors.ConfigError` names the bad field).

Example::

    policy = ToolPolicy(
        timeout=5.0,
        max_concurrency=4,
        cache=CachePolicy(ttl=600, scope="agent", tags=("crm",), negative_ttl=10),
    )
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from agentrt.errors import ConfigError

__all__ = ["CachePolicy", "CacheScope", "ToolPolicy"]

CacheScope = Literal["shared", "agent", "tenant"]
"""Who may see a cached result: every agent (``shared``, the default), only the agent that
produced it (``agent``), or the agents of one tenant (``tenant``)."""

_SCOPES = ("shared", "agent", "tenant")


def _positive(key: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigError(key, f"must be a positive finite number, got {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class CachePolicy:
    """How a tool's results are cached.

    - ``ttl``: seconds a successful result stays cached (default 300).
    - ``scope``: ``"shared"`` (default), ``"agent"`` or ``"tenant"``; see :data:`CacheScope`.
    - ``tags``: extra invalidation tags for every result of the tool (the tool's name is
      always a tag: :meth:`ResultCache.invalidate_tool`).
    - ``negative_ttl``: cache *errors* (tool exceptions, timeouts) for this many seconds;
      ``None`` (default) never caches errors. Argument errors are never cached.
    - ``refresh_ahead``: when a hit has less than this fraction of its TTL left, serve it
      and refresh it in the background (one refresh per key); ``None`` (default) disables.
    - ``cost``: estimated cost of one execution (e.g. dollars of a paid API); every hit
      adds it to the cache's ``cost_saved`` (default 0).

    Example: ``CachePolicy(ttl=60, scope="agent", refresh_ahead=0.2)``
    """

    ttl: float = 300.0
    scope: CacheScope = "shared"
    tags: tuple[str, ...] = ()
    negative_ttl: float | None = None
    refresh_ahead: float | None = None
    cost: float = 0.0

    def __post_init__(self) -> None:
        _positive("ttl", self.ttl)
        if not isinstance(self.cost, int | float) or not 0 <= self.cost < math.inf:
            raise ConfigError("cost", f"must be a finite number >= 0, got {self.cost!r}")
        if self.scope not in _SCOPES:
            raise ConfigError("scope", f"must be one of {_SCOPES}, got {self.scope!r}")
        if not isinstance(self.tags, tuple) or not all(isinstance(t, str) and t for t in self.tags):
            raise ConfigError("tags", f"must be a tuple of non-empty strings, got {self.tags!r}")
        if self.negative_ttl is not None:
            _positive("negative_ttl", self.negative_ttl)
        if self.refresh_ahead is not None and not 0 < self.refresh_ahead < 1:
            raise ConfigError("refresh_ahead", f"must be in (0, 1), got {self.refresh_ahead!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolPolicy:
    """How a tool runs.

    - ``timeout``: seconds for one call, waiting for a slot included (default 30; the
      users' target is p90 < 5 s). On expiry the call returns a ``timeout`` error result.
    - ``max_concurrency``: calls of this tool running at once (default 8).
    - ``max_waiting``: calls allowed to wait for a slot (default 1000); more get a ``busy``
      error result at once.
    - ``cache``: a :class:`CachePolicy`, or ``None`` (default) to never cache.

    Example: ``ToolPolicy(timeout=5, max_concurrency=2, cache=CachePolicy(ttl=60))``
    """

    timeout: float = 30.0
    max_concurrency: int = 8
    max_waiting: int = 1000
    cache: CachePolicy | None = None

    def __post_init__(self) -> None:
        _positive("timeout", self.timeout)
        for key in ("max_concurrency", "max_waiting"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(key, f"must be an integer >= 1, got {value!r}")
        if self.cache is not None and not isinstance(self.cache, CachePolicy):
            raise ConfigError("cache", f"must be a CachePolicy or None, got {self.cache!r}")
