"""``LLMPool``: one node's shared, well-behaved access to its LLM providers.

Every request goes through, in order:

1. the response cache, when the request's policy caches it (off by default; streams
   bypass it; ``agentrt.llm._cache``): a hit is answered from the store, concurrent
   misses of one key send one request;
2. otherwise coalescing: an identical deterministic request already in flight is
   awaited instead of sent again;
3. the failover chain: the providers serving the model, in configured order; a provider
   whose retries are exhausted on a retryable error, whose breakers are all open, or that
   answered malformed data hands the request to the next one;
4. per provider: a pause of the model after a 429 / 503 with Retry-After, and its open
   breakers, waited out when the deadline allows (outside any slot; else RateLimited /
   CircuitOpen at once, or the next provider); the fair wait queue (concurrency limit,
   priorities, per-agent round-robin, bounded), the rpm/tpm token buckets, then one
   attempt on a replica (least outstanding with agent affinity, a breaker per
   (replica, model, endpoint));
5. retries with decorrelated jitter, never below the server's Retry-After; a retry that
   cannot start before the deadline is not waited for (steps 3 and 5:
   ``agentrt.llm._failover``; embeddings: ``agentrt.llm._embedding``; docs/llm.md).

Deadlines are absolute ``loop.time()`` values (default: now + ``default_timeout_s``), so a
caller can pass its own deadline down unchanged. A request that cannot be sent before its
deadline is not sent; a caller still waiting at its deadline gets
:class:`DeadlineExceeded`. A cancelled caller frees its queue place or slot at once.

Example::

    config = PoolConfig(providers=(ProviderConfig(name="local", base_urls=(url,)),))
    async with LLMPool(config) as pool:
        reply = await pool.chat(
            ChatRequest(model="mock", messages=(Message.user("hi"),)), agent_id="a1"
        )
        async with pool.stream(request, agent_id="a1") as stream:
            async for chunk in stream:
                print(chunk.delta, end="")
        vectors = await pool.embed(["some text"], model="mock-embed")
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentrt.deadline import earliest
from agentrt.llm._backend import Backend, HTTPBackend
from agentrt.llm._batching import Coalescer
from agentrt.llm._cache import ResponseCache, ResponseCachePolicy
from agentrt.llm._cachepath import CachePath
from agentrt.llm._config import PoolConfig, ProviderConfig
from agentrt.llm._embedding import Embeddings
from agentrt.llm._errors import InvalidRequest, LLMError, PoolClosed, ProviderError
from agentrt.llm._failover import across, attempt
from agentrt.llm._lane import ProviderLane, respond
from agentrt.llm._sempath import SemanticPath
from agentrt.llm._semshare import SemanticShare
from agentrt.llm._streaming import ChatStream
from agentrt.llm._structured import SchemaValidators
from agentrt.llm._types import ChatRequest, ChatResponse, EmbeddingResponse, Priority, request_key
from agentrt.llm.providers._mock import MockProvider
from agentrt.telemetry import Events, LogHistogram, Span, UsageRecorder
from agentrt.tokens import TokenEstimator, estimate_tokens

if TYPE_CHECKING:
    from agentrt.llm._semindex import SemanticIndex

__all__ = ["CHAT_EVENT", "LLMPool"]

#: Telemetry span of each chat and stream call (see ``agentrt.telemetry._events``).
CHAT_EVENT = ("agentrt", "llm", "chat")


def _validate(request: ChatRequest) -> None:
    if not isinstance(request, ChatRequest):
        raise InvalidRequest("request", f"expected a ChatRequest, got {type(request).__name__}")
    if not request.messages:
        raise InvalidRequest("messages", "must not be empty")


class LLMPool:
    """Pooled, fair, rate-limited, retrying access to LLM providers (see module doc).

    - ``backends``: ready backends by provider name, replacing the ones the config would
      build (e.g. a scripted :class:`MockProvider`, or an :class:`HTTPBackend` over a
      custom httpx transport).
    - ``response_cache``: where cached answers are stored (a
      :class:`~agentrt.llm._cache.ResponseCache`, e.g.
      ``agentrt.tools.cache.LLMResponseCache``); whether a request uses it is its
      policy's (``chat(cache=...)``, else ``config.response_cache``, off by default).
      None: nothing is cached whatever the policy says.
    - ``semantic_index``: where the semantic cache keeps question vectors (default: an
      in-process ``SemanticIndex`` of 10,000 entries, made on first semantic lookup).
    - ``semantic_share``: a :class:`~agentrt.llm._semshare.SemanticShare` that shares
      semantic entries with other nodes through Redis (the runtime makes one when its
      cache is on Redis; its answers live in ``response_cache``); None (the default):
      each pool has its own entries. Not closed by the pool.
    - ``env``: where API keys are read from (default ``os.environ``); a provider naming an
      unset variable raises :class:`~agentrt.errors.ConfigError` here.
    - ``recorder``: where each agent's usage is reported (requests, tokens, cost, LLM
      time, errors, retries, queue wait, stream TTFT), for calls given an ``agent_id``;
      the runtime passes its ``Telemetry``, so that ``rt.telemetry.agent(id)`` shows it.
      None (the default): per-agent usage is not kept (per-provider stats always are).
    - ``estimator``: counts the tokens of a text for the tpm buckets' estimate before a
      call (default about four characters per token; pass a tokenizer's count, e.g.
      ``lambda text: len(enc.encode(text))``, as for ``Conversation``).

    Use ``async with LLMPool(...) as pool`` or call :meth:`aclose`: closing cancels pending
    embedding batches and closes every connection.
    """

    def __init__(
        self,
        config: PoolConfig | None = None,
        *,
        backends: Mapping[str, Backend] | None = None,
        response_cache: ResponseCache | None = None,
        semantic_index: SemanticIndex | None = None,
        semantic_share: SemanticShare | None = None,
        env: Mapping[str, str] | None = None,
        events: Events | None = None,
        recorder: UsageRecorder | None = None,
        estimator: TokenEstimator = estimate_tokens,
    ) -> None:
        self.config = config or PoolConfig()
        self._schemas = SchemaValidators()
        self._events = events
        env = os.environ if env is None else env
        given = dict(backends or {})
        self._providers = {
            p.name: ProviderLane(
                p,
                given.pop(p.name) if p.name in given else self._build_backend(p, env),
                estimator,
                shared=self.config.shared_limits,
                events=events,
            )
            for p in self.config.providers
        }
        if given:
            raise InvalidRequest("backends", f"no provider config named {sorted(given)}")
        #: where cached answers are stored (None: nothing is cached); not closed by the pool
        self.response_cache = response_cache
        self._cache = CachePath(response_cache, self.config.response_cache, events)
        #: semantic entries shared with other nodes (None: this node's only); not closed
        #: by the pool
        self.semantic_share = semantic_share
        self._semantic = SemanticPath(
            self._cache, self.embed, events, semantic_index, semantic_share
        )
        #: per-agent usage goes here (see the class docs)
        self.recorder = recorder
        self._coalescer: Coalescer[ChatResponse] = Coalescer()
        self._embeddings = Embeddings(self._chain, self._is_closed)
        self._chains: dict[str, tuple[ProviderLane, ...]] = {}
        self._closed = False

    @staticmethod
    def _build_backend(config: ProviderConfig, env: Mapping[str, str]) -> Backend:
        if config.kind == "mock":
            return MockProvider(config.name, latency_ms=config.mock_latency_ms)
        return HTTPBackend(config, api_key=config.read_api_key(env))

    async def __aenter__(self) -> LLMPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool: pending embedding batches and requests in flight fail with
        PoolClosed (nothing is retried after), every connection closes. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._embeddings.aclose()
        for provider in self._providers.values():
            await provider.backend.aclose()
            await provider.limiter.aclose()

    def _chain(self, model: str) -> tuple[ProviderLane, ...]:
        chain = self._chains.get(model)
        if chain is None:
            chain = tuple(self._providers[p.name] for p in self.config.chain(model))
            if not chain:
                raise InvalidRequest("model", f"no provider serves model {model!r}")
            if len(self._chains) < 1024:
                self._chains[model] = chain
        return chain

    def _deadline(self, deadline: float | None) -> float:
        if self._closed:
            raise PoolClosed()
        if deadline is None:  # the caller's deadline, else the pool's default
            return earliest(self.config.default_timeout_s)
        return deadline

    # -- chat -----------------------------------------------------------------------------

    async def chat(
        self,
        request: ChatRequest,
        *,
        agent_id: str | None = None,
        deadline: float | None = None,
        priority: Priority = Priority.NORMAL,
        cache: ResponseCachePolicy | None = None,
        tenant_id: str | None = None,
    ) -> ChatResponse:
        """Send ``request`` and return the answer (see the module doc for the path).

        ``cache``: this request's response-cache policy (None: the pool's,
        ``config.response_cache``). A cached answer has ``cached=True``, zero usage and
        cost 0.0; what it saved is reported to the ``recorder`` (``llm_cache_hit``) and
        counted per model in ``stats()["response_cache"]``. With the policy's
        ``semantic`` cache on, the final question is first looked up by embedding
        (``agentrt.llm._sempath``; ``tenant_id``: the caller's tenant, for a
        tenant-scoped semantic cache; ``stats()["semantic_cache"]``).

        Raises :class:`DeadlineExceeded`, :class:`Overloaded`, a :class:`ProviderError`
        subclass once retries and failover are exhausted, :class:`InvalidRequest` when no
        provider serves the model, :class:`PoolClosed` after :meth:`aclose`.
        """
        _validate(request)
        self._schemas.check(request)
        deadline = self._deadline(deadline)
        loop = asyncio.get_running_loop()
        started = loop.time()
        span = self._span(request, agent_id, "chat")
        try:
            response = await self._answer(request, agent_id, tenant_id, deadline, priority, cache)
        except BaseException as exc:
            if agent_id is not None and self.recorder is not None and isinstance(exc, LLMError):
                self.recorder.llm_error(agent_id, exc)
            if span is not None:
                span.fail(exc)
            raise
        if not response.cached:
            self._charge(agent_id, response, loop.time() - started, None)
        if span is not None:
            self._describe(span, response.provider)
            respond(span, response)
            usage = response.usage
            span.stop(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                reasoning_tokens=usage.reasoning_tokens,
            )
        return response

    def _span(self, request: ChatRequest, agent_id: str | None, operation: str) -> Span | None:
        """A telemetry span for one chat/stream call, if anyone listens (else None).

        Its metadata names, from the start, the provider the call goes to first
        (``provider``: the system, e.g. ``"openai"``; ``provider_config``: the config's
        name; ``server_address``/``server_port``: its first base URL), so a call that
        fails before any answer still carries them; ``_describe`` updates them to the
        provider that answered (failover)."""
        events = self._events
        if events is None or not events.listening(CHAT_EVENT):
            return None
        meta: dict[str, Any] = {
            "model": request.model,
            "agent_id": agent_id,
            "operation": operation,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        try:
            first: str | None = self._chain(request.model)[0].name
        except InvalidRequest:  # the call fails the same way just after
            first = None
        meta.update(self._provider_meta(first))
        return events.span(CHAT_EVENT, meta)

    def _describe(self, span: Span, provider: str | None) -> None:
        """Set ``span``'s provider metadata to config ``provider`` (the one that answered)."""
        span.metadata.update(self._provider_meta(provider))

    def _provider_meta(self, provider: str | None) -> dict[str, Any]:
        lane = self._providers.get(provider) if provider is not None else None
        if lane is None:
            return {"provider": None, "provider_config": provider}
        return lane.meta

    def _answer(
        self,
        request: ChatRequest,
        agent_id: str | None,
        tenant_id: str | None,
        deadline: float,
        priority: Priority,
        cache: ResponseCachePolicy | None,
    ) -> Awaitable[ChatResponse]:
        """The answer, through the semantic cache when its policy applies, else
        ``_exact``'s (a plain function returning the awaitable: one coroutine frame less
        on every request's path)."""
        policy = self._cache.policy(request, cache)
        semantic = self._semantic.policy(request, cache)
        if semantic is None:  # the usual path: no closure per request
            return self._exact(request, agent_id, deadline, priority, policy)
        return self._semantic.chat(
            request,
            semantic,
            agent_id,
            tenant_id,
            self.recorder,
            lambda: self._exact(request, agent_id, deadline, priority, policy),
            deadline,
            exact=policy is not None,
        )

    def _exact(
        self,
        request: ChatRequest,
        agent_id: str | None,
        deadline: float,
        priority: Priority,
        policy: ResponseCachePolicy | None,
    ) -> Awaitable[ChatResponse]:
        """The answer through the exact response cache when ``policy`` caches the
        request, else coalesced (temperature 0) or sent."""
        if policy is not None:
            return self._cache.chat(
                request,
                policy,
                agent_id,
                self.recorder,
                lambda: self._chat_chain(request, agent_id, deadline, priority),
                deadline,
            )
        if request.temperature == 0 and self.config.coalesce:
            return self._coalesced(request, agent_id, deadline, priority)
        return self._chat_chain(request, agent_id, deadline, priority)

    async def _coalesced(
        self, request: ChatRequest, agent_id: str | None, deadline: float, priority: Priority
    ) -> ChatResponse:
        response, _ = await self._coalescer.run(
            request_key(request),
            lambda: self._chat_chain(request, agent_id, deadline, priority),
            deadline,
        )
        return response

    async def _chat_chain(
        self, request: ChatRequest, agent_id: str | None, deadline: float, priority: Priority
    ) -> ChatResponse:
        chain = self._chain(request.model)
        charged: set[object] = set()
        try:  # the common case: the first provider answers the first attempt
            return await self._chat_once(
                chain[0], request, agent_id, deadline, priority, charged, len(chain) == 1
            )
        except ProviderError as exc:
            first_error = exc
        return await across(
            chain,
            lambda p, last: self._chat_once(
                p, request, agent_id, deadline, priority, charged, last
            ),
            deadline,
            self._is_closed,
            self._on_retry(agent_id),
            first_error,
        )

    def _is_closed(self) -> bool:
        return self._closed

    def _on_retry(self, agent_id: str | None) -> Callable[[], None] | None:
        """What counts a retry against ``agent_id`` (None: nobody to charge)."""
        recorder = self.recorder
        if agent_id is None or recorder is None:
            return None
        return lambda: recorder.llm_retry(agent_id)

    async def _admit_waiting(
        self,
        provider: ProviderLane,
        request: ChatRequest | None,
        agent_id: str | None,
        deadline: float,
        priority: Priority,
    ) -> int:
        """``provider.admit`` that also charges the wait to the agent's stats."""
        recorder = self.recorder
        if agent_id is None or recorder is None:
            return await provider.admit(request, agent_id, deadline, priority)
        loop = asyncio.get_running_loop()
        queued = loop.time()
        try:
            return await provider.admit(request, agent_id, deadline, priority)
        finally:
            recorder.llm_queue_wait(agent_id, loop.time() - queued)

    async def _chat_once(
        self,
        provider: ProviderLane,
        request: ChatRequest,
        agent_id: str | None,
        deadline: float,
        priority: Priority,
        charged: set[object],
        last: bool,
    ) -> ChatResponse:
        async def admit() -> int:
            if provider.admit_now(deadline):
                return 0
            return await self._admit_waiting(provider, request, agent_id, deadline, priority)

        sent = asyncio.get_running_loop().time()
        response, estimate = await attempt(
            provider,
            request.model,
            "chat",
            deadline,
            last,
            admit,
            lambda until: provider.backend.chat(
                request, agent_id=agent_id, until=until, charged=charged
            ),
            "waiting for the response",
            self._is_closed,
        )
        provider.queue.release()
        provider.stats.latency.record(asyncio.get_running_loop().time() - sent)
        response = provider.settle(response, estimate, request.model)
        if request.response_format is not None:
            response = self._schemas.parse(request, response)
        return response

    # -- streaming ------------------------------------------------------------------------

    def stream(
        self,
        request: ChatRequest,
        *,
        agent_id: str | None = None,
        deadline: float | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> ChatStream:
        """A streamed answer; use as ``async with pool.stream(req) as s: async for c in s``.

        Retries and failover apply until the provider accepted the request (status 200);
        an error after chunks started flowing is raised to the caller. The stream holds a
        concurrency slot until it is closed. ``s.ttft_s`` is the time to first chunk and
        ``s.response`` the assembled answer once the stream is exhausted.
        """
        _validate(request)
        self._schemas.check(request)
        return ChatStream(self, request, agent_id, self._deadline(deadline), priority)

    # -- embeddings -----------------------------------------------------------------------

    async def embed(
        self,
        texts: Sequence[str],
        *,
        model: str,
        agent_id: str | None = None,
        deadline: float | None = None,
    ) -> EmbeddingResponse:
        """Vectors for ``texts`` (in order), micro-batched with other callers' texts.

        Raises :class:`InvalidRequest` for an empty list or non-string items, else as
        :meth:`chat`.
        """
        if isinstance(texts, str) or not texts or not all(isinstance(t, str) for t in texts):
            raise InvalidRequest("texts", "must be a non-empty sequence of strings")
        deadline = self._deadline(deadline)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            response = await self._embeddings.embed(texts, model, deadline)
        except LLMError as exc:
            if agent_id is not None and self.recorder is not None:
                self.recorder.llm_error(agent_id, exc)
            raise
        if agent_id is not None and self.recorder is not None:
            tokens = response.usage.input_tokens
            self.recorder.llm_call(agent_id, tokens, 0, 0.0, loop.time() - started, None)
        return response

    # -- stats ----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Per provider: requests, errors by type, retries, failovers, tokens, cost,
        latency/TTFT/queue-wait histograms, queue and limiter state, replicas; plus pool
        counters (coalesced, the response cache's hits and savings per model, embedding
        batches). Per-agent usage is
        in the ``recorder``'s records (``Telemetry.agent(id)``)."""
        providers = {}
        for name, p in self._providers.items():
            view = p.stats.view()
            view["queue"] = p.queue.stats()
            view["rate_limit"] = p.limiter.stats()
            view["backend"] = p.backend.stats()
            providers[name] = view
        return {
            "providers": providers,
            "coalesced": self._coalescer.coalesced,
            "in_flight_coalesced_keys": len(self._coalescer),
            "response_cache": self._cache.stats(),
            "semantic_cache": self._semantic.stats(),
            "embedding_batches": self._embeddings.stats(),
            "closed": self._closed,
        }

    async def invalidate_cache_tag(self, tag: str) -> int:
        """Drop every cached answer stored with ``tag`` (a policy's tag; ``"llm"``: all);
        how many were found (0 without a ``response_cache``), and the semantic cache's
        entries stored with it."""
        return await self._cache.invalidate_tag(tag) + self._semantic.invalidate_tag(tag)

    def queue_wait(self) -> LogHistogram:
        """Seconds requests waited for a slot, every provider's merged (a new histogram:
        the cluster statistics publish it)."""
        merged = LogHistogram()
        for p in self._providers.values():
            merged.merge(p.stats.queue_wait)
        return merged

    def waiting(self) -> int:
        """Callers waiting now for a slot under a provider's ``max_concurrency``, summed
        over providers (cheap: for live views)."""
        return sum(p.queue.waiting for p in self._providers.values())

    def backend(self, provider: str) -> Backend:
        """The backend serving ``provider`` (built from its config, or the one given in
        ``backends``). ``InvalidRequest`` naming the configured providers if unknown."""
        lane = self._providers.get(provider)
        if lane is None:
            known = sorted(self._providers)
            raise InvalidRequest("provider", f"no provider {provider!r}; configured: {known}")
        return lane.backend

    def _charge(
        self, agent_id: str | None, response: ChatResponse, elapsed: float, ttft: float | None
    ) -> None:
        """Report one answered request to the recorder, when there is an agent to charge."""
        recorder = self.recorder
        if agent_id is not None and recorder is not None:
            usage = response.usage
            recorder.llm_call(
                agent_id, usage.input_tokens, usage.output_tokens, response.cost, elapsed, ttft
            )
