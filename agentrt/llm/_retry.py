"""Which errors are retried, and how long to wait before the next attempt.

Pure functions:

- :func:`retry_after_from_headers` reads every form of "wait this long" servers send
  (see the rules below); :func:`parse_retry_after` one ``Retry-After`` value (seconds or
  an HTTP date); :func:`parse_duration` Go-style durations (``"1s"``, ``"6m0s"``,
  ``"20ms"``).
- :func:`backoff_delay` computes the wait before a retry: decorrelated jitter, never
  below the server's Retry-After.

Retry-After rules (docs/llm.md):

1. The explicit headers, in seconds: ``retry-after`` (delta-seconds or HTTP date),
   ``retry-after-ms``, LiteLLM's ``llm_provider-retry-after`` and
   ``llm_provider-retry-after-ms`` (the upstream provider's header passed through). When
   several are sent, the longest wins (no server is ever retried early).
2. Without an explicit header: OpenAI's ``x-ratelimit-reset-requests`` /
   ``x-ratelimit-reset-tokens`` durations, each counted unless its
   ``x-ratelimit-remaining-*`` says budget is left; the longest applicable wins.
3. Nothing usable (absent, negative, NaN, unparsable): None (the policy's backoff).

Example::

    >>> retry_after_from_headers({"x-ratelimit-reset-tokens": "6m0s"})
    360.0
    >>> backoff_delay(RetryPolicy(base_delay_s=0.5, jitter=0.0), attempt=3, retry_after=None)
    2.0
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import time
from collections.abc import Callable, Mapping

from agentrt.llm._config import RetryPolicy
from agentrt.llm._errors import LLMError

__all__ = [
    "backoff_delay",
    "is_retryable",
    "parse_duration",
    "parse_retry_after",
    "retry_after_from_headers",
    "retry_delay",
]

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)")


def is_retryable(exc: BaseException) -> bool:
    """True for errors worth retrying on the same provider (429, 408, 409, 5xx, network)."""
    return isinstance(exc, LLMError) and exc.retryable


def backoff_delay(
    policy: RetryPolicy,
    attempt: int,
    retry_after: float | None,
    rand: Callable[[], float] = random.random,
    *,
    previous: float | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based).

    - Without ``retry_after``: decorrelated jitter (``uniform(base, 3 x previous)``,
      capped at ``max_delay_s``; ``previous`` is the last wait, ``base_delay_s`` at
      first), blended with the plain exponential ``base_delay_s * 2**(attempt-1)`` by
      ``policy.jitter`` (0: no randomness at all, 1: pure decorrelated jitter).
    - With ``retry_after``: never below it, plus up to ``jitter x min(max_delay_s,
      max(retry_after, previous))`` so that callers told the same Retry-After spread out
      instead of retrying in one wave.
    """
    previous = policy.base_delay_s if previous is None else previous
    if retry_after is not None:
        spread = min(policy.max_delay_s, max(retry_after, previous))
        return max(retry_after, 0.0) + policy.jitter * spread * rand()
    exponential = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (attempt - 1))
    upper = max(policy.base_delay_s, min(policy.max_delay_s, previous * 3.0))
    decorrelated = policy.base_delay_s + (upper - policy.base_delay_s) * rand()
    return (1.0 - policy.jitter) * exponential + policy.jitter * decorrelated


def retry_delay(
    policy: RetryPolicy,
    exc: LLMError,
    retries: int,
    time_left: float,
    previous: float | None,
) -> float | None:
    """Seconds to wait before retrying ``exc`` (after ``retries`` retries, with
    ``time_left`` seconds to the deadline), or None when it is not retried: not
    retryable, retries used up, a Retry-After over ``max_retry_after_s``, or a wait that
    would end after the deadline (the error is then raised at once)."""
    if not exc.retryable or retries >= policy.max_retries:
        return None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None and retry_after > policy.max_retry_after_s:
        return None
    delay = backoff_delay(policy, retries + 1, retry_after, previous=previous)
    return None if delay >= time_left else delay


def _seconds(value: float) -> float | None:
    return None if math.isnan(value) or value < 0 else min(value, 1e9)


def _number(value: str) -> float | str | None:
    """``value`` as seconds when it is a plain number (None: an invalid one), else the
    stripped text for the caller's own format."""
    value = value.strip()
    try:
        return _seconds(float(value))
    except ValueError:
        return value


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` (delta-seconds or HTTP-date) in seconds; None when absent or invalid."""
    parsed = _number(value) if value else None
    if not isinstance(parsed, str):
        return parsed
    try:
        when = email.utils.parsedate_to_datetime(parsed)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now())


def parse_duration(value: str | None) -> float | None:
    """A Go-style duration (``"1s"``, ``"6m0s"``, ``"1h2m3.5s"``, ``"20ms"``) or a bare
    number of seconds, in seconds; None when absent or invalid."""
    parsed = _number(value) if value else None
    if not isinstance(parsed, str):
        return parsed
    parts = _DURATION.findall(parsed)
    if not parts or "".join(n + u for n, u in parts) != parsed:
        return None
    return _seconds(sum(float(n) * _UNITS[u] for n, u in parts))


def _milliseconds(value: str | None) -> float | None:
    parsed = _number(value) if value else None
    return parsed / 1000.0 if isinstance(parsed, float) else None


def retry_after_from_headers(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """How long the server asked us to wait, in seconds (rules in the module doc).

    ``headers`` must look keys up case-insensitively, or use lower-case keys."""
    explicit = [
        parse_retry_after(headers.get("retry-after"), now),
        _milliseconds(headers.get("retry-after-ms")),
        parse_retry_after(headers.get("llm_provider-retry-after"), now),
        _milliseconds(headers.get("llm_provider-retry-after-ms")),
    ]
    given = [v for v in explicit if v is not None]
    if given:
        return max(given)
    resets = []
    for kind in ("requests", "tokens"):
        left = parse_duration(headers.get(f"x-ratelimit-remaining-{kind}"))
        reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
        if reset is not None and not (left is not None and left > 0):
            resets.append(reset)
    return max(resets) if resets else None
