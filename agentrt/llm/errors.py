"""Errors raised by the LLM layer.

Every error derives from :class:`LLMError` (itself an :class:`agentrt.errors.AgentRTError`)
and from the builtin it resembles, so ``except TimeoutError`` catches a missed deadline::

    AgentRTError
    └── LLMError
        ├── Overloaded                      the wait queue stayed full until the deadline
        ├── DeadlineExceeded (TimeoutError) the request's deadline passed (or cannot be met)
        ├── PoolClosed (RuntimeError)       the pool was closed
        ├── InvalidRequest (ValueError)     rejected before sending (no provider, bad args)
        └── ProviderError                   a provider failed; ``provider`` and ``problem`` set
            ├── BadRequest (ValueError)             400/404/422: never retried
            ├── AuthenticationError (PermissionError) 401/403: never retried
            ├── MalformedResponse (ValueError)      invalid JSON, missing fields, truncated SSE,
            │                                       unknown finish reason: never retried
            ├── RateLimited                         429; ``retry_after`` seconds when sent
            ├── ProviderTimeout (TimeoutError)      408 or the HTTP read/connect timed out
            └── ProviderUnavailable (ConnectionError) 409, 5xx, 529, connection errors
                └── CircuitOpen                     the breaker of every replica is open

``retryable`` (a class attribute) says whether the pool retries the error on the same
provider; retryable errors that exhaust their retries move the request to the next provider
of the failover chain.
"""

from __future__ import annotations

from agentrt.errors import AgentRTError

__all__ = [
    "AuthenticationError",
    "BadRequest",
    "CircuitOpen",
    "DeadlineExceeded",
    "InvalidRequest",
    "LLMError",
    "MalformedResponse",
    "Overloaded",
    "PoolClosed",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
]


class LLMError(AgentRTError):
    """Base class of the LLM layer's errors."""

    retryable: bool = False


class Overloaded(LLMError):
    """The provider's wait queue was full and stayed full until the caller's deadline."""

    def __init__(self, provider: str, queue_bound: int) -> None:
        super().__init__(f"provider {provider!r} overloaded: wait queue full ({queue_bound})")
        self.provider = provider
        self.queue_bound = queue_bound


class DeadlineExceeded(LLMError, TimeoutError):
    """The request's deadline passed, or the request could not be sent before it."""

    def __init__(self, provider: str, stage: str) -> None:
        super().__init__(f"deadline exceeded for provider {provider!r} while {stage}")
        self.provider = provider
        self.stage = stage


class PoolClosed(LLMError, RuntimeError):
    """The pool was closed before or while serving the request."""

    def __init__(self) -> None:
        super().__init__("the LLM pool is closed")


class InvalidRequest(LLMError, ValueError):
    """The request was rejected before anything was sent; ``field`` names the problem."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid LLM request {field!r}: {problem}")
        self.field = field
        self.problem = problem


class ProviderError(LLMError):
    """A provider answered badly or not at all; names the provider and the problem."""

    def __init__(self, provider: str, problem: str, *, status: int | None = None) -> None:
        where = f"provider {provider!r}"
        if status is not None:
            where += f" (HTTP {status})"
        super().__init__(f"{where}: {problem}")
        self.provider = provider
        self.problem = problem
        self.status = status


class BadRequest(ProviderError, ValueError):
    """The provider rejected the request (400, 404, 422). Not retried."""


class AuthenticationError(ProviderError, PermissionError):
    """The provider refused the credentials (401, 403). Not retried."""


class MalformedResponse(ProviderError, ValueError):
    """The response could not be understood: invalid JSON, missing fields, truncated
    stream, unknown finish reason. Not retried."""


class RateLimited(ProviderError):
    """The provider asked us to slow down (429). ``retry_after`` is in seconds, or None."""

    retryable = True

    def __init__(
        self, provider: str, problem: str, *, status: int | None = 429, retry_after: float | None
    ) -> None:
        super().__init__(provider, problem, status=status)
        self.retry_after = retry_after


class ProviderTimeout(ProviderError, TimeoutError):
    """The provider did not answer in time (408, connect or read timeout)."""

    retryable = True


class ProviderUnavailable(ProviderError, ConnectionError):
    """The provider is down or overloaded (409, 5xx, Anthropic 529, connection errors)."""

    retryable = True

    def __init__(
        self,
        provider: str,
        problem: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(provider, problem, status=status)
        self.retry_after = retry_after


class CircuitOpen(ProviderUnavailable):
    """Every replica of the provider has an open circuit breaker; nothing was sent."""

    retryable = False  # nothing was sent: fail over at once instead of backing off

    def __init__(self, provider: str) -> None:
        super().__init__(provider, "circuit breaker open on every replica")
