"""The LLM response cache: its policy, its key, and the store seam the pool talks to.

The pool decides *whether* and *under which key* a request is cached; the storage (TTL,
tags, backends, single-flight) is injected as a :class:`ResponseCache`. The one
implementation is :class:`agentrt.tools.cache.LLMResponseCache`, on the tool cache's
machinery (memory, Redis or two-level backends, msgpack values, never pickle); this layer
does not import it (``agentrt.llm`` and ``agentrt.tools`` are siblings), the runtime wires
it (``LLMPool(response_cache=...)``).

Policy (:class:`ResponseCachePolicy`), off by default, chosen per request, else per agent
(``Agent.llm_cache`` / the ``llm_cache`` spawn option, passed on each call), else the
pool's (``PoolConfig.response_cache``):

- only ``chat`` calls are cached; **streams bypass the cache** (they are neither read
  from nor written to it);
- a request is cached when its ``temperature`` is 0, or any temperature (None included:
  the provider's default) when the policy says ``allow_nonzero_temperature``;
- the key (:func:`response_cache_key`) is a 128-bit BLAKE2b of the canonical JSON of the
  normalised request: the model, each message's role, content (text or parts), name,
  tool calls, tool-call id and error flag (never its timestamp or token estimate), the
  tools, ``tool_choice``, ``response_format`` and the sampling parameters
  (``temperature``, ``top_p``, ``max_tokens``, ``stop``, ``seed``,
  ``parallel_tool_calls``, ``extra_body``); ``cache_prompt`` (a provider-side prompt
  cache switch that does not change the answer) is left out. Integral floats count as
  integers (``0`` and ``0.0`` are one key).

Example::

    policy = ResponseCachePolicy(enabled=True, ttl_s=600, tags=("faq",))
    pool = LLMPool(config, response_cache=LLMResponseCache(ResultCache(MemoryBackend())))
    await pool.chat(request, cache=policy)        # a miss: asks the provider, stores
    await pool.chat(request, cache=policy)        # a hit: .cached is True, cost 0.0
    await pool.invalidate_cache_tag("faq")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from typing import Annotated, Any, Protocol, runtime_checkable

import msgspec

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.llm._semantic import SEMANTIC_OFF, SemanticCachePolicy
from agentrt.llm._types import ChatRequest

__all__ = [
    "ResponseCache",
    "ResponseCachePolicy",
    "cacheable",
    "canonical_json",
    "normalised_request",
    "response_cache_key",
]

_canonical = msgspec.json.Encoder(order="sorted")
_MESSAGE_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id", "is_error")


@dataclass(frozen=True, kw_only=True)
class ResponseCachePolicy:
    """Whether and how LLM answers are cached (see the module docs).

    - ``enabled``: consult and fill the cache (default False: off).
    - ``ttl_s``: seconds an answer stays cached (default 3600; > 0, at most 30 days).
    - ``tags``: tags stored with each answer, for ``LLMPool.invalidate_cache_tag``
      (every answer also carries ``"llm"``).
    - ``allow_nonzero_temperature``: cache requests whose temperature is not 0 (default
      False: a sampled answer is not one to replay).
    - ``semantic``: the semantic cache's own :class:`SemanticCachePolicy` (default off;
      it works whether or not ``enabled`` is; docs/llm.md "Semantic cache").

    Example::

        ResponseCachePolicy(enabled=True, ttl_s=600, tags=("faq",))
    """

    enabled: bool = False
    ttl_s: Annotated[float, Bounds(low=0, open_low=True, high=30 * 86_400)] = 3600.0
    tags: tuple[str, ...] = ()
    allow_nonzero_temperature: bool = False
    semantic: SemanticCachePolicy = SEMANTIC_OFF

    def __post_init__(self) -> None:
        if not isinstance(self.semantic, SemanticCachePolicy):
            raise ConfigError(
                "semantic", f"expected a SemanticCachePolicy, got {type(self.semantic).__name__}"
            )
        if not isinstance(self.enabled, bool):
            raise ConfigError("enabled", f"expected a bool, got {self.enabled!r}")
        if not isinstance(self.allow_nonzero_temperature, bool):
            raise ConfigError(
                "allow_nonzero_temperature",
                f"expected a bool, got {self.allow_nonzero_temperature!r}",
            )
        tags: Any = self.tags
        if isinstance(tags, str) or not all(isinstance(t, str) and t for t in tags):
            raise ConfigError("tags", f"expected a tuple of non-empty strings, got {tags!r}")
        object.__setattr__(self, "tags", tuple(self.tags))
        check_fields(self)


#: The pool's default: off.
CACHE_OFF = ResponseCachePolicy()


def cacheable(request: ChatRequest, policy: ResponseCachePolicy) -> bool:
    """True when ``policy`` caches ``request`` (enabled, and temperature 0 unless it
    allows others)."""
    return policy.enabled and (policy.allow_nonzero_temperature or request.temperature == 0)


def response_cache_key(request: ChatRequest) -> str:
    """The cache key of ``request``: ``"{model}:{digest}"`` (see the module docs)."""
    digest = blake2b(canonical_json(normalised_request(request)), digest_size=16).hexdigest()
    return f"{request.model}:{digest}"


def normalised_request(request: ChatRequest) -> dict[str, Any]:
    """``request`` as plain data, as the key sees it: without ``cache_prompt``, each
    message reduced to the fields that change the answer (see the module docs)."""
    body: dict[str, Any] = msgspec.to_builtins(request)
    body.pop("cache_prompt", None)
    body["messages"] = [
        {k: m[k] for k in _MESSAGE_FIELDS if k in m} for m in body.get("messages", ())
    ]
    return body


def canonical_json(value: Any) -> bytes:
    """Sorted-key JSON of ``value`` with integral floats as integers (``0`` == ``0.0``)."""
    return _canonical.encode(_integral(value))


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


@runtime_checkable
class ResponseCache(Protocol):
    """Where cached answers live (``agentrt.tools.cache.LLMResponseCache`` is the one
    implementation). Values are JSON-able mappings; implementations never unpickle.

    ``lookup`` returns ``(value, cached)``: the stored value (``cached`` True), or, on a
    miss, the value ``fill()`` produced (``fill`` returns it with its cost, stored for
    ``ttl`` under ``tags``). Concurrent lookups of one key run ``fill`` once; those that
    joined get ``cached`` True. An exception from ``fill`` reaches every waiter and
    nothing is stored. A failing store must behave as a miss, never raise its own errors.
    """

    async def lookup(
        self,
        key: str,
        fill: Callable[[], Awaitable[tuple[Mapping[str, Any], float]]],
        *,
        ttl: float,
        tags: Sequence[str],
    ) -> tuple[Any, bool]:
        """The value under ``key``, filling it once on a miss (see the class docs)."""
        ...

    async def invalidate(self, key: str) -> bool:
        """Drop ``key`` (an entry that did not decode); True when it was there."""
        ...

    async def invalidate_tag(self, tag: str) -> int:
        """Drop every answer stored with ``tag``; how many were found."""
        ...
