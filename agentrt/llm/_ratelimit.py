"""Token buckets pacing requests/min and tokens/min per provider.

Besides the buckets, a limiter holds *pauses* per model: when a server answers 429 (or a
503 with ``Retry-After``), the pool pauses that (provider, model) for the time the server
asked, so the rest of the swarm waits instead of each request learning it alone
(:meth:`RateLimiter.pause`, :meth:`RateLimiter.paused_for`).

A bucket holds up to one minute's budget and refills continuously. Before a call the pool
takes one request and the *estimated* tokens (:func:`agentrt.llm._tokens.
estimate_request_tokens`); after it, :meth:`RateLimiter.reconcile` corrects the token
bucket with the usage the provider reported (a bucket may go into debt, which later
callers wait off). A caller that would have to wait past its deadline gets
:class:`DeadlineExceeded` at once instead of waiting in vain.

Example::

    limiter = RateLimiter("openai", rpm=500, tpm=200_000)
    await limiter.acquire(tokens=1200, deadline=loop.time() + 30)
    ...  # the call, which reports usage.total_tokens == 900
    limiter.reconcile(estimated=1200, actual=900)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from agentrt.llm._errors import DeadlineExceeded

__all__ = ["RateLimiter", "TokenBucket"]


class TokenBucket:
    """``per_minute`` units per minute, at most ``capacity`` stored (default
    ``per_minute``: one minute's budget; start full)."""

    __slots__ = ("_clock", "_level", "_stamp", "capacity", "rate")

    def __init__(
        self,
        per_minute: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        capacity: float | None = None,
    ) -> None:
        self.capacity = float(per_minute if capacity is None else capacity)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._level = self.capacity
        self._stamp = clock()

    @property
    def level(self) -> float:
        """Units available now (negative while in debt)."""
        self._refill()
        return self._level

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now

    def delay(self, units: float) -> float:
        """Seconds until ``units`` are available (0.0: available now)."""
        self._refill()
        units = min(units, self.capacity)
        missing = units - self._level
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, units: float) -> None:
        """Take ``units`` (may leave the bucket in debt)."""
        self._refill()
        self._level -= units

    def give(self, units: float) -> None:
        """Return ``units`` (capped at capacity)."""
        self._refill()
        self._level = min(self.capacity, self._level + units)


class RateLimiter:
    """Requests/min and tokens/min limits of one provider (``0``: unlimited)."""

    def __init__(
        self,
        name: str,
        *,
        rpm: int = 0,
        tpm: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.requests = TokenBucket(rpm, clock) if rpm else None
        self.tokens = TokenBucket(tpm, clock) if tpm else None
        self.waits = 0
        self.wait_s = 0.0
        self._pauses: dict[str, float] = {}  # model -> loop.time() the pause ends
        self.pauses = 0

    @property
    def enabled(self) -> bool:
        return self.requests is not None or self.tokens is not None

    @property
    def paused(self) -> bool:
        """True when some model has (or recently had) a pause."""
        return bool(self._pauses)

    def pause(self, model: str, seconds: float, now: float) -> None:
        """Pause ``model`` until ``now + seconds`` (``now``: ``loop.time()``); a longer
        pause already in place stays. At most 1,024 models are tracked (expired pauses
        are dropped first, then the one ending soonest)."""
        until = now + seconds
        if until <= self._pauses.get(model, 0.0):
            return
        if model not in self._pauses and len(self._pauses) >= 1024:
            for key in [k for k, end in self._pauses.items() if end <= now]:
                del self._pauses[key]
            if len(self._pauses) >= 1024:
                del self._pauses[min(self._pauses, key=self._pauses.__getitem__)]
        self._pauses[model] = until
        self.pauses += 1

    def paused_for(self, model: str, now: float) -> float:
        """Seconds ``model`` stays paused (0.0: not paused; an expired pause is dropped)."""
        until = self._pauses.get(model)
        if until is None:
            return 0.0
        if until <= now:
            del self._pauses[model]
            return 0.0
        return until - now

    def delay(self, tokens: int) -> float:
        """Seconds until one request of ``tokens`` may go."""
        delay = self.requests.delay(1) if self.requests else 0.0
        if self.tokens:
            delay = max(delay, self.tokens.delay(tokens))
        return delay

    async def acquire(self, tokens: int, deadline: float | None) -> float:
        """Wait until one request of ``tokens`` fits both budgets, then take it; the
        seconds waited (0.0: none)."""
        loop = asyncio.get_running_loop()
        waited = 0.0
        while (delay := self.delay(tokens)) > 0:
            if deadline is not None and loop.time() + delay > deadline:
                raise DeadlineExceeded(self.name, "waiting for the rate limit")
            self.waits += 1
            self.wait_s += delay
            waited += delay
            await asyncio.sleep(delay)
        if self.requests:
            self.requests.take(1)
        if self.tokens:
            self.tokens.take(tokens)
        return waited

    async def share_pauses(self) -> None:
        """Tell other nodes of this node's new pauses: nothing to do for a node-local
        limiter (``SharedRateLimiter`` publishes them)."""

    async def aclose(self) -> None:
        """Release what the limiter holds: nothing for a node-local limiter."""

    def reconcile(self, estimated: int, actual: int) -> None:
        """Correct the token bucket once the real usage is known."""
        if self.tokens and actual != estimated:
            if actual < estimated:
                self.tokens.give(estimated - actual)
            else:
                self.tokens.take(actual - estimated)

    def stats(self) -> dict[str, Any]:
        return {
            "requests_available": round(self.requests.level, 3) if self.requests else None,
            "tokens_available": round(self.tokens.level, 3) if self.tokens else None,
            "waits": self.waits,
            "wait_s": round(self.wait_s, 6),
            "pauses": self.pauses,
            "paused_models": len(self._pauses),
        }
