"""One replica (base URL) of an HTTP provider, and what counts against its breakers.

A :class:`Replica` holds the pooled transport of one base URL, a circuit breaker per
**(model, endpoint kind)** (at most :data:`MAX_BREAKERS`, closed ones dropped past it) and
its counters. What counts against a breaker (:func:`breaks`): answers that say the server
is broken (5xx without ``Retry-After`` except 529, connect errors, a connection dropped
mid-answer, an attempt that used its whole ``timeout_s``, malformed answers). Not
counted: 4xx (the server works: a success for the breaker), backpressure (429, any status
carrying ``Retry-After``, 409, 529: the rate limiter handles it), a stale keep-alive
connection (retried at once by the transport), an attempt cut short by the caller's own
deadline, cancellation. A retried request counts once (``charged``).
:func:`mapped_error` turns what an attempt raised into the LLM error it stands for.
"""

from __future__ import annotations

import httpx

from agentrt.llm._breaker import CircuitBreaker
from agentrt.llm._config import ProviderConfig
from agentrt.llm._errors import (
    CircuitOpen,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ResponseTooLarge,
)
from agentrt.llm._httpxbytes import byte_sender
from agentrt.llm._transport import BodyTooLarge

__all__ = ["MAX_BREAKERS", "Replica", "breaks", "mapped_error"]

#: Breakers kept per replica (models x endpoints); past it, closed ones are dropped.
MAX_BREAKERS = 1024


def breaks(exc: BaseException, *, whole_timeout: bool = True) -> bool:
    """Does ``exc`` say the server is broken (counted by its breaker)? See module doc.

    ``whole_timeout``: the attempt ran for its full ``timeout_s`` (a timeout cut short by
    the caller's deadline says nothing about the server)."""
    if isinstance(exc, CircuitOpen):
        return False
    if isinstance(exc, ProviderUnavailable):
        return exc.retry_after is None and exc.status not in (409, 529)
    if isinstance(exc, ProviderTimeout):
        return exc.status is None and whole_timeout
    return isinstance(exc, MalformedResponse)


def _backpressure(exc: BaseException) -> bool:
    if isinstance(exc, ProviderUnavailable) and not isinstance(exc, CircuitOpen):
        return exc.retry_after is not None or exc.status in (409, 529)
    return isinstance(exc, RateLimited)


class Replica:
    """One base URL of a provider: its transport, its breakers per (model, endpoint)
    and its counters; :meth:`finish` accounts each request's end (see the module doc)."""

    __slots__ = (
        "breakers",
        "config",
        "failures",
        "outstanding",
        "requests",
        "sender",
        "transport",
        "url",
    )

    def __init__(self, url: str, transport: httpx.AsyncBaseTransport, config: ProviderConfig):
        self.url = url.rstrip("/")
        self.transport = transport
        self.sender = byte_sender(transport)  # non-streaming calls: the byte-level path
        self.config = config
        self.breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self.outstanding = 0
        self.requests = 0
        self.failures = 0

    def breaker(self, key: tuple[str, str]) -> CircuitBreaker:
        """The breaker of (model, endpoint) on this replica (created closed)."""
        breaker = self.breakers.get(key)
        if breaker is None:
            if len(self.breakers) >= MAX_BREAKERS:
                self._forget_closed()
            breaker = self.breakers[key] = CircuitBreaker(self.config.breaker)
        return breaker

    def _forget_closed(self) -> None:
        for key in [k for k, b in self.breakers.items() if b.state == "closed" and not b.failures]:
            del self.breakers[key]

    def finish(
        self,
        breaker: CircuitBreaker,
        exc: BaseException | None,
        charged: set[object] | None = None,
        whole_timeout: bool = True,
    ) -> None:
        """Account the end of a request in the counters and the breaker."""
        self.outstanding -= 1
        if exc is None:
            breaker.record(ok=True)
        elif breaks(exc, whole_timeout=whole_timeout):
            self.failures += 1
            breaker.record(ok=False, charge=charged is None or breaker not in charged)
            if charged is not None:
                charged.add(breaker)
        elif isinstance(exc, ProviderError) and not _backpressure(exc):
            breaker.record(ok=True)  # it answered (4xx): alive
        else:  # backpressure, cancelled, deadline: no verdict on the server
            breaker.release_probe()


def mapped_error(provider: str, exc: BaseException) -> BaseException:
    """The LLM error an attempt's exception stands for: the attempt's own timer expiring
    is a ProviderTimeout (the pool turns it into DeadlineExceeded when the caller's
    deadline was the limit), a transport error or an over-long body their errors."""
    if isinstance(exc, TimeoutError) and not isinstance(exc, ProviderError):
        return ProviderTimeout(provider, "no answer before the attempt timed out")
    if isinstance(exc, httpx.TransportError):
        return _transport_error(provider, exc)
    if isinstance(exc, BodyTooLarge):
        problem = f"response body larger than max_response_bytes={exc.limit}"
        return ResponseTooLarge(provider, problem, limit=exc.limit)
    return exc


def _transport_error(provider: str, exc: httpx.TransportError) -> ProviderError:
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(provider, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.ConnectError):
        return ProviderUnavailable(provider, f"cannot connect: {exc}")
    return ProviderUnavailable(provider, f"connection failed: {type(exc).__name__}: {exc}")
