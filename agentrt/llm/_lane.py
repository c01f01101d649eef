"""``ProviderLane``: the runtime of one provider inside the pool.

A lane bundles a provider's backend with its admission (the fair queue and the rpm/tpm
buckets) and its accounting, and owns the per-attempt bookkeeping the pool repeats for
chat, streams and embeddings: take a slot (:meth:`admit`), count a failed attempt
(:meth:`attempt_failed`), account a success (:meth:`settle`). Internal to the pool.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec

from agentrt.llm._accounting import ModelStats, ProviderStats
from agentrt.llm._backend import Backend, Endpoint
from agentrt.llm._config import ProviderConfig, SharedLimits
from agentrt.llm._errors import (
    DeadlineExceeded,
    LLMError,
    ProviderUnavailable,
    RateLimited,
)
from agentrt.llm._queue import FairQueue
from agentrt.llm._ratelimit import RateLimiter
from agentrt.llm._retry import backoff_delay
from agentrt.llm._sharedlimit import SharedRateLimiter
from agentrt.llm._tokens import estimate_request_tokens
from agentrt.llm._types import ChatRequest, ChatResponse, Priority
from agentrt.tokens import TokenEstimator, estimate_tokens

if TYPE_CHECKING:
    from agentrt.telemetry import Events, Span

__all__ = ["ProviderLane", "provider_meta", "respond"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def provider_meta(config: ProviderConfig) -> dict[str, Any]:
    """What a chat span says about provider ``config``: ``provider`` (its system, the
    OpenTelemetry ``gen_ai.provider.name``: ``"openai"``, ``"anthropic"``, ``"mock"``),
    ``provider_config`` (the config's name), ``server_address``/``server_port`` (of its
    first base URL; None for the in-process mock)."""
    address: str | None = None
    port: int | None = None
    if config.kind != "mock" and config.base_urls:
        parts = urlsplit(config.base_urls[0])
        address = parts.hostname
        try:
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:  # validated by the config already; never fail a call on it
            port = None
    return {
        "provider": config.kind,
        "provider_config": config.name,
        "server_address": address,
        "server_port": port,
    }


def respond(span: Span, response: ChatResponse) -> None:
    """Put ``response``'s model, id and finish reason in ``span``'s metadata."""
    meta = span.metadata
    meta["response_model"] = response.model or None
    meta["response_id"] = response.id or None
    meta["finish_reason"] = response.finish_reason


class ProviderLane:
    """One provider's backend, queue, limiter and stats."""

    __slots__ = ("backend", "config", "estimator", "limiter", "meta", "name", "queue", "stats")

    def __init__(
        self,
        config: ProviderConfig,
        backend: Backend,
        estimator: TokenEstimator = estimate_tokens,
        *,
        shared: SharedLimits | None = None,
        events: Events | None = None,
    ) -> None:
        """``shared``: cluster-wide limits (:class:`SharedRateLimiter`) when the provider
        has rpm or tpm; ``events``: where the shared limiter reports outages."""
        self.estimator = estimator
        self.name = config.name
        self.config = config
        self.meta = provider_meta(config)  # for telemetry spans (read, never changed)
        self.backend = backend
        self.queue = FairQueue(
            config.name, limit=config.max_concurrency, max_waiting=config.max_queue
        )
        limited = config.rpm or config.tpm
        self.limiter: RateLimiter = (
            SharedRateLimiter(
                config.name, rpm=config.rpm, tpm=config.tpm, limits=shared, events=events
            )
            if shared is not None and limited
            else RateLimiter(config.name, rpm=config.rpm, tpm=config.tpm)
        )
        self.stats = ProviderStats()

    def admit_now(self, deadline: float) -> bool:
        """Take a slot without suspending when one is free and no rate limit applies.

        True: the caller owns a slot (release it with ``queue.release()``). False: use
        :meth:`admit`. Raises DeadlineExceeded (no slot kept) when the deadline passed.
        """
        if self.limiter.enabled or not self.queue.try_acquire():
            return False
        stats = self.stats
        stats.queue_wait.record(0.0)
        if asyncio.get_running_loop().time() >= deadline:
            self.queue.release()
            raise counted(stats, DeadlineExceeded(self.name, "before sending"))
        stats.requests += 1
        return True

    async def admit(
        self,
        request: ChatRequest | None,
        agent_id: str | None,
        deadline: float,
        priority: Priority,
        model: str | None = None,
    ) -> int:
        """Wait for a slot and the rate limits; returns the token estimate taken. A wait
        for the rpm/tpm buckets is counted in the model's stats (``request.model``, else
        ``model``).

        On success the caller owns a slot and must ``queue.release()`` it.
        """
        if self.admit_now(deadline):
            return 0
        loop = asyncio.get_running_loop()
        queued = loop.time()
        try:
            await self.queue.acquire(agent_id, priority, deadline)
        except BaseException as exc:
            raise counted(self.stats, exc) from None
        try:
            now = loop.time()
            self.stats.queue_wait.record(now - queued)
            if now >= deadline:
                raise DeadlineExceeded(self.name, "waiting in the queue")
            estimate = 0
            if self.limiter.enabled:
                estimate = (
                    estimate_request_tokens(request, self.estimator) if request is not None else 1
                )
                waited = await self.limiter.acquire(estimate, deadline)
                name = request.model if request is not None else model
                if waited and name:
                    self.stats.model(name).waited(waited)
        except BaseException as exc:
            self.queue.release()
            raise counted(self.stats, exc) from None
        self.stats.requests += 1
        return estimate

    def settle(self, response: ChatResponse, estimate: int, model: str) -> ChatResponse:
        """Account a successful answer to a request for ``model``; stamp its provider
        and cost."""
        stats = self.stats
        stats.succeeded += 1
        usage = response.usage
        if estimate:
            self.limiter.reconcile(estimate, usage.total_tokens or estimate)
        cost = self.config.cost(
            usage.input_tokens,
            usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )
        stats.add_usage(usage, cost, model)
        if cost != response.cost or response.provider != self.name:
            response = msgspec.structs.replace(response, cost=cost, provider=self.name)
        return response

    def attempt_failed(
        self, exc: BaseException, deadline: float, stage: str, model: str
    ) -> BaseException:
        """Count a failed attempt; a timeout at the caller's deadline is DeadlineExceeded.
        Backpressure (429; 503 with Retry-After) pauses ``model`` (see :meth:`wait_pause`):
        for the Retry-After, or ``retry.base_delay_s`` for a 429 without one."""
        now = asyncio.get_running_loop().time()
        expired = isinstance(exc, TimeoutError) and now >= deadline
        if expired and not isinstance(exc, DeadlineExceeded):
            exc = DeadlineExceeded(self.name, stage)
        if isinstance(exc, RateLimited | ProviderUnavailable):
            seconds = exc.retry_after
            if seconds is None and isinstance(exc, RateLimited):
                seconds = self.config.retry.base_delay_s
            if seconds:
                self.limiter.pause(model, seconds, now)
        count_error(self.stats, exc)
        return exc

    async def ready(self, model: str, endpoint: Endpoint, deadline: float, last: bool) -> None:
        """Wait out a pause of ``model`` and its open breakers, if the deadline allows and
        no other provider follows in the chain (``last``; else fail over at once). Raises
        RateLimited / CircuitOpen (counted) when the wait cannot end in time."""
        if self.limiter.paused:
            await self.limiter.share_pauses()
            await self.wait_pause(model, deadline)
        backend = self.backend
        if not backend.ready(model, endpoint):
            until = deadline if last else asyncio.get_running_loop().time()
            try:
                await backend.wait_ready(model, endpoint, until)
            except LLMError as exc:
                raise counted(self.stats, exc) from None

    async def wait_pause(self, model: str, deadline: float) -> None:
        """Wait out a pause of ``model`` (plus jitter, so waiters do not all wake in one
        wave). A pause ending after ``deadline`` raises :class:`RateLimited` at once, its
        ``retry_after`` the seconds left; nothing is sent."""
        loop = asyncio.get_running_loop()
        policy = self.config.retry
        while (left := self.limiter.paused_for(model, loop.time())) > 0:
            if loop.time() + left > deadline:
                problem = f"paused for {left:.3f} s: the server asked to slow down"
                error = RateLimited(self.name, problem, status=None, retry_after=left, model=model)
                raise counted(self.stats, error)
            wait = min(backoff_delay(policy, 1, left, previous=left), deadline - loop.time())
            self.stats.model(model).waited(max(wait, 0.0))
            await asyncio.sleep(wait)


def counted(stats: ProviderStats | ModelStats, exc: BaseException) -> BaseException:
    """Count ``exc`` in ``stats``; returns it (for ``raise``)."""
    count_error(stats, exc)
    return exc


def count_error(stats: ProviderStats | ModelStats, exc: BaseException) -> None:
    """Errors by type name; cancellations as ``Cancelled``."""
    if isinstance(exc, LLMError):
        stats.errors[type(exc).__name__] += 1
    elif isinstance(exc, asyncio.CancelledError):
        stats.errors["Cancelled"] += 1
