"""Retries and failover: how ``LLMPool`` runs one request across its provider chain.

- ``across`` runs ``attempt(provider, is_last)`` on each provider of the chain in turn,
  retrying on each with decorrelated jitter (``retry_delay``: never below the server's
  Retry-After, never past the deadline). A provider whose retries are exhausted on a
  retryable error, whose breakers are all open (``CircuitOpen``) or that answered
  malformed data (``MalformedResponse``) hands the request to the next one; the last
  provider's error is raised. The slot is given back while backing off.
- ``attempt`` is one try on one provider: wait until the model may be sent
  (:meth:`ProviderLane.ready`), take a slot (``admit``), send; a pause of the model
  learnt while admitted (a 429 of another request, or of another node read with the
  shared limits' lease) gives the slot back and waits first. The slot is released on
  failure; the caller releases it after success. A caller that lost the half-open probe
  to another one waits again (within its deadline).

Both take ``closed()``: a pool closed in between raises ``PoolClosed`` instead of
retrying, and an attempt failing because the pool closed under it ends with
``PoolClosed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from agentrt.deadline import earliest
from agentrt.llm._backend import Endpoint
from agentrt.llm._errors import (
    CircuitOpen,
    LLMError,
    MalformedResponse,
    PoolClosed,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from agentrt.llm._lane import ProviderLane, count_error
from agentrt.llm._retry import retry_delay

__all__ = ["across", "attempt"]

T = TypeVar("T")


async def across(
    chain: tuple[ProviderLane, ...],
    attempt: Callable[[ProviderLane, bool], Awaitable[T]],
    deadline: float,
    closed: Callable[[], bool],
    on_retry: Callable[[], None] | None = None,
    first_error: ProviderError | None = None,
) -> T:
    """``attempt(provider, is_last)`` on each provider of ``chain`` in turn, retrying on
    each (see the module docs); ``on_retry()`` is called before each retry.

    ``first_error``: the first attempt on ``chain[0]`` was already made and failed so.
    """
    last = len(chain) - 1
    for i, provider in enumerate(chain):
        retries = 0
        delay: float | None = None
        while True:
            try:
                if first_error is not None:
                    error, first_error = first_error, None
                    raise error
                if closed():
                    raise PoolClosed()
                return await attempt(provider, i == last)
            except ProviderError as exc:
                left = deadline - asyncio.get_running_loop().time()
                delay = retry_delay(provider.config.retry, exc, retries, left, delay)
                if delay is None:
                    if i == last or not (exc.retryable or _switches_provider(exc)):
                        raise
                    provider.stats.failovers += 1
                    break
            retries += 1
            provider.stats.retries += 1
            if on_retry is not None:
                on_retry()
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: the chain is never empty")  # pragma: no cover


async def attempt(
    provider: ProviderLane,
    model: str,
    endpoint: Endpoint,
    deadline: float,
    last: bool,
    admit: Callable[[], Awaitable[int]],
    send: Callable[[float], Awaitable[T]],
    stage: str,
    closed: Callable[[], bool],
) -> tuple[T, int]:
    """One attempt on ``provider`` (see the module docs): ``(send(until), estimate)``,
    ``estimate`` being what ``admit`` returned (the tokens charged to the buckets).
    Counted in ``model``'s stats too: the request once admitted, the error it fails with."""
    loop = asyncio.get_running_loop()
    per_model = provider.stats.model(model)
    while True:
        try:
            # the usual case (nothing paused, a breaker closed) without a coroutine
            if provider.limiter.paused or not provider.backend.ready(model, endpoint):
                await provider.ready(model, endpoint, deadline, last)
            estimate = await admit()
        except BaseException as exc:
            count_error(per_model, exc)
            raise
        limiter = provider.limiter
        if limiter.paused and limiter.paused_for(model, loop.time()) > 0:
            provider.queue.release()  # a pause learnt while admitted (e.g. another node's
            continue  # 429, read with the shared lease): wait it out in ready() first
        per_model.requests += 1
        until = earliest(provider.config.timeout_s, deadline)
        try:
            return await send(until), estimate
        except BaseException as exc:
            provider.queue.release()
            if isinstance(exc, CircuitOpen) and last and loop.time() < deadline:
                continue
            error = provider.attempt_failed(exc, deadline, stage, model)
            count_error(per_model, error)
            if isinstance(error, RateLimited | ProviderUnavailable) and limiter.paused:
                await limiter.share_pauses()  # the other nodes learn it at once
            if closed() and isinstance(error, LLMError):
                error = PoolClosed()
            raise error from None


def _switches_provider(exc: ProviderError) -> bool:
    """Non-retryable errors that still justify trying the next provider."""
    return isinstance(exc, CircuitOpen | MalformedResponse)
