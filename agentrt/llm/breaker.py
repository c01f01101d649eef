"""A circuit breaker per replica.

States: ``closed`` (requests flow; consecutive failures are counted) -> ``open`` after
``failure_threshold`` consecutive failures (nothing is sent for ``reset_timeout_s``) ->
``half_open`` (up to ``half_open_probes`` requests are let through as probes) -> a probe's
success closes the breaker, a probe's failure opens it again for another
``reset_timeout_s``. Only failures that say the server is unwell count (connect errors,
timeouts, 5xx, malformed responses), not 4xx answers.

Example::

    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3, reset_timeout_s=5))
    if breaker.allow():
        ...  # send; then breaker.record(ok=True) or breaker.record(ok=False)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from agentrt.llm.config import BreakerConfig

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Closed -> open -> half-open -> closed, as described in the module docstring."""

    __slots__ = (
        "_clock",
        "_opened_at",
        "_probes",
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
        self._probes = 0
        self.opened = 0
        self.rejected = 0

    def allow(self) -> bool:
        """May a request be sent now? In half-open state this takes a probe slot."""
        if self.state == "closed":
            return True
        if self.state == "open":
            if self._clock() - self._opened_at < self.config.reset_timeout_s:
                self.rejected += 1
                return False
            self.state = "half_open"
            self._probes = 0
        if self._probes < self.config.half_open_probes:
            self._probes += 1
            return True
        self.rejected += 1
        return False

    def available(self) -> bool:
        """Would :meth:`allow` let a request through (without taking a probe)?"""
        if self.state == "closed":
            return True
        if self.state == "open":
            return self._clock() - self._opened_at >= self.config.reset_timeout_s
        return self._probes < self.config.half_open_probes

    def record(self, *, ok: bool) -> None:
        """Report the outcome of a request :meth:`allow` let through."""
        if ok:
            self.failures = 0
            self.state = "closed"
            return
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.config.failure_threshold:
            self._trip()

    def release_probe(self) -> None:
        """A half-open probe ended without a verdict (cancelled): free its slot."""
        if self.state == "half_open" and self._probes:
            self._probes -= 1

    def _trip(self) -> None:
        self.state = "open"
        self._opened_at = self._clock()
        self.opened += 1

    def stats(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "consecutive_failures": self.failures,
            "opened": self.opened,
            "rejected": self.rejected,
        }
