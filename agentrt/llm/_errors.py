"""Errors raised by the LLM layer.

Every error derives from :class:`LLMError` (itself an :class:`agentrt.errors.AgentRTError`)
and from the builtin it resembles, so ``except TimeoutError`` catches a missed deadline::

    AgentRTError
    └── LLMError
        ├── Overloaded                      the wait queue stayed full until the deadline
        ├── DeadlineExceeded (TimeoutError) the request's deadline passed (or cannot be met)
        ├── PoolClosed (RuntimeError)       the pool was closed
        ├── InvalidRequest (ValueError)     rejected before sending (no provider, bad args)
        ├── LimitStateDamaged (ValueError)  a shared rate-limit key in Redis is damaged
        └── ProviderError                   a provider failed; ``provider``, ``model``, ``url``,
            │                                   ``status`` and ``problem`` (the server's message)
            ├── BadRequest (ValueError)             400/404/422: never retried
            │   └── ContextLengthExceeded           the prompt does not fit the model's window
            ├── AuthenticationError (PermissionError) 401/403: never retried
            ├── MalformedResponse (ValueError)      invalid JSON, missing fields, truncated SSE,
            │   │                                   unknown finish reason, absurd usage
            │   └── ResponseTooLarge                body or SSE event over the configured limit
            ├── RateLimited                         429; ``retry_after`` seconds when sent
            ├── ProviderTimeout (TimeoutError)      408 or the HTTP read/connect timed out
            └── ProviderUnavailable (ConnectionError) 409, 5xx, 529, connection errors
                └── CircuitOpen                     the breaker of every replica is open

Every :class:`ProviderError` names the provider, and once the attempt's backend has
placed it, the model and the base URL (never a key, and never a URL's user info)::

    provider 'proxy' model 'gpt-x' at http://10.0.0.5:4000/v1 (HTTP 503): server busy

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
    "ContextLengthExceeded",
    "DeadlineExceeded",
    "InvalidRequest",
    "LLMError",
    "LimitStateDamaged",
    "MalformedResponse",
    "Overloaded",
    "PoolClosed",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "ResponseTooLarge",
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


class LimitStateDamaged(LLMError, ValueError):
    """A key of the cluster-wide rate limits (``SharedLimits``) holds data this runtime did
    not write: a wrong Redis type, or fields that are not numbers. ``key`` names it; it is
    never overwritten (delete it by hand once understood)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"shared rate-limit key {key!r} is damaged: {problem}")
        self.key = key
        self.problem = problem


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
    """A provider answered badly or not at all.

    ``problem`` is what went wrong (the server's own message when it sent one), ``status``
    the HTTP status (None when no answer came), ``model`` the provider's model name and
    ``url`` the replica's base URL (both None until the backend placed the error, see
    :meth:`place`). ``str()`` shows them all.
    """

    def __init__(
        self,
        provider: str,
        problem: str,
        *,
        status: int | None = None,
        model: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(problem)
        self.provider = provider
        self.problem = problem
        self.status = status
        self.model = model
        self.url = url

    def place(self, model: str | None, url: str | None) -> ProviderError:
        """Fill in ``model`` and ``url`` where unset (``url`` without user info); returns
        self, for ``raise exc.place(...)``."""
        if self.model is None:
            self.model = model
        if self.url is None and url is not None:
            self.url = _without_userinfo(url)
        return self

    def __str__(self) -> str:
        where = f"provider {self.provider!r}"
        if self.model is not None:
            where += f" model {self.model!r}"
        if self.url is not None:
            where += f" at {self.url}"
        if self.status is not None:
            where += f" (HTTP {self.status})"
        return f"{where}: {self.problem}"


def _without_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if sep and "@" in host:
        return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"
    return url


class BadRequest(ProviderError, ValueError):
    """The provider rejected the request (400, 404, 422). Not retried."""


class ContextLengthExceeded(BadRequest):
    """The prompt (plus ``max_tokens``) does not fit the model's context window.

    Recognised from every server dialect by one table (:mod:`agentrt.llm.providers._base`):
    OpenAI's ``context_length_exceeded`` code, Anthropic's "prompt is too long", LiteLLM's
    ``ContextWindowExceededError``, vLLM/OpenAI "maximum context length", llama.cpp's
    ``exceed_context_size_error``, Ollama's "exceeds ... context". Not retried as is: the
    caller must send a shorter context (the Agent does so once, see docs/agent.md)."""


class AuthenticationError(ProviderError, PermissionError):
    """The provider refused the credentials (401, 403). Not retried."""


class MalformedResponse(ProviderError, ValueError):
    """The response could not be understood: invalid JSON, missing fields, truncated
    stream, unknown finish reason. Not retried."""


class ResponseTooLarge(MalformedResponse):
    """A response body, or one SSE event, exceeded the provider's configured limit
    (``ProviderConfig.max_response_bytes`` / ``max_event_bytes``); ``limit`` is in bytes.
    Reading stops at the limit and the connection is closed, never reused."""

    def __init__(
        self,
        provider: str,
        problem: str,
        *,
        limit: int,
        model: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(provider, problem, model=model, url=url)
        self.limit = limit


class RateLimited(ProviderError):
    """The provider asked us to slow down (429, or the pool's own pause after one).

    ``retry_after`` is in seconds from when the error was raised, or None. A caller whose
    deadline comes before that gets this error at once instead of waiting."""

    retryable = True

    def __init__(
        self,
        provider: str,
        problem: str,
        *,
        status: int | None = 429,
        retry_after: float | None,
        model: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(provider, problem, status=status, model=model, url=url)
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
        model: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(provider, problem, status=status, model=model, url=url)
        self.retry_after = retry_after


class CircuitOpen(ProviderUnavailable):
    """Every replica's breaker for this (model, endpoint) is open and none would let a
    request through before the caller's deadline; nothing was sent. ``url`` lists the
    replicas' base URLs."""

    retryable = False  # nothing was sent: fail over at once instead of backing off

    def __init__(self, provider: str, *, model: str | None = None, url: str | None = None) -> None:
        super().__init__(
            provider,
            "circuit breaker open on every replica, none ready before the deadline",
            model=model,
            url=url,
        )
