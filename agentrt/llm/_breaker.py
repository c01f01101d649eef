"""Circuit breakers: one per (provider, replica base URL, model, endpoint kind).

States: ``closed`` (requests flow; consecutive failing requests are counted, and the
outcomes of the last ``window`` requests kept) -> ``open`` after ``failure_threshold``
consecutive failures, once at least ``failure_rate`` of that window failed too (nothing
is sent for ``reset_timeout_s``) ->
``half_open``: one probe at a time is let through; ``half_open_probes`` successful probes
in a row close the breaker, a failed probe opens it again for another
``reset_timeout_s``. A probe that ends without a verdict (cancelled, or answered with
backpressure) frees its place for the next probe.

What is a failure is the caller's decision (:mod:`agentrt.llm._backend`: only answers
saying the server is broken); :meth:`CircuitBreaker.record` takes ``charge=False`` for
a retry of a request that already counted once, so one request counts once at most
(a failed half-open probe still re-opens the breaker).

Waiting: :meth:`ready_in` says how long until a request could pass (None: a probe is in
flight, its outcome decides) and :meth:`wait_change` waits for the next state change,
so a caller whose deadline allows it waits for the probe instead of failing.

Example::

    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3, reset_timeout_s=5))
    if breaker.allow():
        ...  # send; then breaker.record(ok=True) or breaker.record(ok=False)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Literal

from agentrt.llm._config import BreakerConfig

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Closed -> open -> half-open -> closed, as described in the module docstring."""

    __slots__ = (
        "_changed",
        "_clock",
        "_opened_at",
        "_outcomes",
        "_probing",
        "_seen",
        "_successes",
        "config",
        "failures",
        "opened",
        "rejected",
        "state",
    )

    def __init__(
        self, config: BreakerConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or BreakerConfig()
        self._clock = clock
        self.state: BreakerState = "closed"
        self.failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._successes = 0
        self._outcomes = 0  # the last ``window`` outcomes, newest in bit 0; 1 = failed
        self._seen = 0  # outcomes in ``_outcomes`` (up to ``window``)
        self._changed: asyncio.Event | None = None
        self.opened = 0
        self.rejected = 0

    def allow(self) -> bool:
        """May a request be sent now? In half-open state this takes the probe's place."""
        if self.state == "closed":
            return True
        if self.state == "open":
            if self._clock() - self._opened_at < self.config.reset_timeout_s:
                self.rejected += 1
                return False
            self.state = "half_open"
            self._probing = False
            self._successes = 0
        if not self._probing:
            self._probing = True
            return True
        self.rejected += 1
        return False

    def available(self) -> bool:
        """Would :meth:`allow` let a request through (without taking the probe)?"""
        if self.state == "closed":
            return True
        if self.state == "open":
            return self._clock() - self._opened_at >= self.config.reset_timeout_s
        return not self._probing

    def ready_in(self) -> float | None:
        """Seconds until :meth:`allow` could pass (0.0: now); None while a half-open
        probe is in flight (its outcome decides)."""
        if self.state == "closed":
            return 0.0
        if self.state == "open":
            return max(0.0, self._opened_at + self.config.reset_timeout_s - self._clock())
        return None if self._probing else 0.0

    def record(self, *, ok: bool, charge: bool = True) -> None:
        """Report the outcome of a request :meth:`allow` let through.

        ``charge=False``: the request already counted a failure here (a retry); it does
        not count again, unless it was the half-open probe (which re-opens the breaker).
        """
        if ok:
            self.failures = 0
            if self.state == "half_open":
                self._successes += 1
                self._probing = False
                if self._successes >= self.config.half_open_probes:
                    self.state = "closed"
                    self._outcomes = self._seen = 0  # a fresh window after recovery
                self._notify()
            else:
                self._note(failed=False)
            return
        if self.state == "half_open":
            self._trip()
            return
        if charge:
            self.failures += 1
            self._note(failed=True)
            if (
                self.failures >= self.config.failure_threshold
                and self.state == "closed"
                and self.failure_rate() >= self.config.failure_rate
            ):
                self._trip()

    def failure_rate(self) -> float:
        """The fraction of the last ``window`` finished requests that failed (0.0 when
        none finished since the breaker last closed)."""
        return self._outcomes.bit_count() / self._seen if self._seen else 0.0

    def _note(self, *, failed: bool) -> None:
        size = self.config.window
        self._outcomes = ((self._outcomes << 1) | failed) & ((1 << size) - 1)
        self._seen = min(size, self._seen + 1)

    def release_probe(self) -> None:
        """A half-open probe ended without a verdict: free its place."""
        if self.state == "half_open" and self._probing:
            self._probing = False
            self._notify()

    async def wait_change(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the next state change (or probe release)."""
        if self._changed is None:
            self._changed = asyncio.Event()
        event = self._changed
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                await event.wait()
        except TimeoutError:
            pass

    def _notify(self) -> None:
        event, self._changed = self._changed, None
        if event is not None:
            event.set()

    def _trip(self) -> None:
        self.state = "open"
        self._probing = False
        self._opened_at = self._clock()
        self.opened += 1
        self._notify()

    def stats(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "consecutive_failures": self.failures,
            "failure_rate": round(self.failure_rate(), 3),
            "opened": self.opened,
            "rejected": self.rejected,
        }
