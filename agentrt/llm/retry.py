"""Which errors are retried, and how long to wait before the next attempt.

Pure functions: :func:`backoff_delay` computes jittered exponential backoff, honouring a
provider's ``Retry-After``; :func:`parse_retry_after` reads that header (seconds or an
HTTP date).

Example::

    >>> backoff_delay(RetryPolicy(base_delay_s=0.5, jitter=0.0), attempt=3, retry_after=None)
    2.0
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable

from agentrt.llm.config import RetryPolicy
from agentrt.llm.errors import LLMError

__all__ = ["backoff_delay", "is_retryable", "parse_retry_after"]


def is_retryable(exc: BaseException) -> bool:
    """True for errors worth retrying on the same provider (429, 408, 409, 5xx, network)."""
    return isinstance(exc, LLMError) and exc.retryable


def backoff_delay(
    policy: RetryPolicy,
    attempt: int,
    retry_after: float | None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based).

    ``Retry-After`` wins when given (capped at ``policy.max_retry_after_s``); otherwise
    ``min(max_delay_s, base_delay_s * 2**(attempt-1))`` times a random factor in
    ``[1 - jitter, 1]``.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.max_retry_after_s)
    ceiling: float = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (attempt - 1))
    return ceiling * (1.0 - policy.jitter * rand())


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` (delta-seconds or HTTP-date) in seconds; None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())
