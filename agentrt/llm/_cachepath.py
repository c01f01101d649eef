"""The pool's response-cache path: policy check, lookup, decoding, savings accounting.

:class:`CachePath` sits between ``LLMPool.chat`` and the injected store
(:class:`~agentrt.llm._cache.ResponseCache`). A request its policy caches is looked up
under :func:`~agentrt.llm._cache.response_cache_key`; a miss sends it (once for all
concurrent callers of that key) and stores the answer as plain data
(``msgspec.to_builtins``). What a hit saved (the stored answer's tokens and cost) is
counted per model here and per agent through the ``UsageRecorder``
(``llm_cache_hit`` / ``llm_cache_miss``: the agent's one ``AgentStats``).

Failure modes, none of which fails the request:

- a stored value that does not decode as a ``ChatResponse`` is dropped, counted in
  ``decode_errors``, logged, emitted as ``("agentrt", "llm", "cache_decode_error")``
  (measurement ``count``; metadata ``model``, ``agent_id``, ``error``) and treated as a
  miss;
- a store that raises is counted in ``errors`` and the request goes to the provider.

An error from the provider reaches the caller (and every caller that joined its fill);
nothing is stored for it. A caller waiting for another caller's fill stops at its own
deadline (:class:`DeadlineExceeded`); the fill goes on for the others.

Example::

    path = CachePath(store, ResponseCachePolicy(enabled=True), events)
    policy = path.policy(request, None)      # None: not cached
    response = await path.chat(request, policy, "a1", recorder, send)
    path.stats()["by_model"]["gpt-4o-mini"]["cost_saved"]
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from agentrt.llm._cache import (
    ResponseCache,
    ResponseCachePolicy,
    cacheable,
    response_cache_key,
)
from agentrt.llm._errors import DeadlineExceeded, LLMError
from agentrt.llm._types import ChatRequest, ChatResponse, Usage
from agentrt.telemetry import Events, UsageRecorder

__all__ = ["CACHE_DECODE_ERROR_EVENT", "CachePath", "ModelSavings"]

#: Emitted when a cached answer read back did not decode (it is dropped: a miss).
CACHE_DECODE_ERROR_EVENT = ("agentrt", "llm", "cache_decode_error")

_log = logging.getLogger("agentrt.llm.cache")
_NO_USAGE = Usage()


class ModelSavings:
    """What cache hits of one model saved: hits, tokens and cost not spent."""

    __slots__ = ("cost", "hits", "input_tokens", "output_tokens", "semantic_hits")

    def __init__(self) -> None:
        self.hits = 0
        self.semantic_hits = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0

    def view(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "semantic_hits": self.semantic_hits,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "tokens_saved": self.input_tokens + self.output_tokens,
            "cost_saved": round(self.cost, 9),
        }


class CachePath:
    """The response cache as the pool uses it (see the module docs)."""

    def __init__(
        self,
        store: ResponseCache | None,
        default: ResponseCachePolicy,
        events: Events | None = None,
    ) -> None:
        self.store = store
        self.default = default
        self._events = events
        self.hits = 0
        self.semantic_hits = 0
        self.misses = 0
        self.skipped = 0
        self.decode_errors = 0
        self.errors = 0
        self.by_model: dict[str, ModelSavings] = {}

    def policy(
        self, request: ChatRequest, override: ResponseCachePolicy | None
    ) -> ResponseCachePolicy | None:
        """The policy that caches ``request`` (``override``, else the pool's default),
        or None when it is not cached (no store, policy off, or a nonzero temperature
        the policy does not allow: counted in ``skipped``)."""
        policy = self.default if override is None else override
        if self.store is None or not policy.enabled:
            return None
        if not cacheable(request, policy):
            self.skipped += 1
            return None
        return policy

    async def chat(
        self,
        request: ChatRequest,
        policy: ResponseCachePolicy,
        agent_id: str | None,
        recorder: UsageRecorder | None,
        send: Callable[[], Awaitable[ChatResponse]],
        deadline: float,
    ) -> ChatResponse:
        """The answer to ``request``: from the store, or ``send()``'s (then stored);
        waiting at most until ``deadline`` (``loop.time()``) for another caller's fill."""
        store = self.store
        assert store is not None  # policy() returned a policy
        key = response_cache_key(request)
        mine: list[ChatResponse] = []
        raised: list[BaseException] = []

        async def fill() -> tuple[Mapping[str, Any], float]:
            try:
                response = await send()
            except BaseException as exc:
                raised.append(exc)
                raise
            mine.append(response)
            return msgspec.to_builtins(response), response.cost

        for _ in range(2):  # a second lookup after dropping an undecodable value
            try:
                async with asyncio.timeout_at(deadline):
                    value, cached = await store.lookup(
                        key, fill, ttl=policy.ttl_s, tags=policy.tags
                    )
            except LLMError:
                raise
            except TimeoutError as exc:
                if raised:
                    raise
                raise DeadlineExceeded("cache", "waiting for an identical request") from exc
            except Exception as exc:
                if raised:  # the provider's error, not the store's
                    raise
                if mine:  # stored nothing, but the answer is here
                    return mine[0]
                self.errors += 1
                _log.warning(
                    "LLM response cache failed (%s: %s); asking the provider",
                    type(exc).__name__,
                    exc,
                )
                return await send()
            if not cached:
                self.missed(agent_id, recorder)
                return mine[0] if mine else _decode(value)
            try:
                stored = _decode(value)
            except (msgspec.ValidationError, TypeError, ValueError) as exc:
                await self._drop(store, key, request, agent_id, exc)
                continue
            self.saved(request.model, stored, agent_id, recorder)
            return msgspec.structs.replace(stored, usage=_NO_USAGE, cost=0.0, cached=True)
        self.missed(agent_id, recorder)
        return await send()

    def missed(self, agent_id: str | None, recorder: UsageRecorder | None) -> None:
        """Count a miss (here and in the agent's stats)."""
        self.misses += 1
        if agent_id is not None and recorder is not None:
            recorder.llm_cache_miss(agent_id)

    def saved(
        self,
        model: str,
        stored: ChatResponse,
        agent_id: str | None,
        recorder: UsageRecorder | None,
        *,
        semantic: bool = False,
    ) -> None:
        """Count a hit answered with ``stored`` and what it saved (here, per model, and
        in the agent's stats); ``semantic``: the semantic cache's hit."""
        self.hits += 1
        self.semantic_hits += semantic
        savings = self.by_model.get(model)
        if savings is None:
            savings = self.by_model[model] = ModelSavings()
        usage = stored.usage
        savings.hits += 1
        savings.semantic_hits += semantic
        savings.input_tokens += usage.input_tokens
        savings.output_tokens += usage.output_tokens
        savings.cost += stored.cost
        if agent_id is not None and recorder is not None:
            recorder.llm_cache_hit(agent_id, usage.input_tokens, usage.output_tokens, stored.cost)

    async def _drop(
        self,
        store: ResponseCache,
        key: str,
        request: ChatRequest,
        agent_id: str | None,
        exc: Exception,
    ) -> None:
        self.decode_errors += 1
        _log.warning(
            "dropping a cached LLM answer that does not decode (model %r): %s", request.model, exc
        )
        events = self._events
        if events is not None and events.listening(CACHE_DECODE_ERROR_EVENT):
            events.emit(
                CACHE_DECODE_ERROR_EVENT,
                {"count": 1},
                {"model": request.model, "agent_id": agent_id, "error": str(exc)},
            )
        try:
            await store.invalidate(key)
        except Exception:
            self.errors += 1

    async def invalidate_tag(self, tag: str) -> int:
        """Drop the answers stored with ``tag`` (0 without a store)."""
        if self.store is None:
            return 0
        return await self.store.invalidate_tag(tag)

    def stats(self) -> dict[str, Any]:
        """Lookups, hits (``semantic_hits`` of them the semantic cache's), misses, hit
        ratio, skipped (policy on, temperature not allowed),
        decode and store errors, tokens and cost saved, and the same per model."""
        lookups = self.hits + self.misses
        models = {m: s.view() for m, s in sorted(self.by_model.items())}
        return {
            "enabled_by_default": self.default.enabled,
            "store": self.store is not None,
            "lookups": lookups,
            "hits": self.hits,
            "semantic_hits": self.semantic_hits,
            "misses": self.misses,
            "hit_ratio": round(self.hits / lookups, 4) if lookups else 0.0,
            "skipped": self.skipped,
            "decode_errors": self.decode_errors,
            "errors": self.errors,
            "tokens_saved": sum(v["tokens_saved"] for v in models.values()),
            "cost_saved": round(sum(s.cost for s in self.by_model.values()), 9),
            "by_model": models,
        }


def _decode(value: Any) -> ChatResponse:
    if isinstance(value, ChatResponse):
        return value
    return msgspec.convert(value, ChatResponse)
