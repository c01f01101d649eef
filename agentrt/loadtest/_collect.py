"""What a load run counts and samples: the turn ledger, the time series, the figures.

:class:`Ledger` counts every user turn: ``sent`` once before it is handed to the runtime,
then exactly one of ``answered`` or ``failed`` (by error type) when its outcome arrives.
A turn with neither at the end of the run is ``lost``. The same counts are kept per model
(:class:`ModelLedger`), with the failures that were *excused*: a ``RateLimited`` whose
``retry_after`` exceeded the time the turn had left (the server asked for more than the
caller could wait, so failing at once was right). :class:`Series` holds one sample
per interval. Both are plain objects, owned by one run, touched only from its loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agentrt.llm import RateLimited
from agentrt.telemetry import LogHistogram

__all__ = ["Ledger", "ModelLedger", "Sample", "Series", "percentile"]


def percentile(hist: LogHistogram, q: float) -> float | None:
    """``hist``'s ``q`` quantile, None when it is empty."""
    return hist.quantile(q) if hist.count else None


@dataclass
class ModelLedger:
    """The turns of the agents talking to one model (see the module docs)."""

    sent: int = 0
    answered: int = 0
    failed: int = 0
    excused: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "answered": self.answered,
            "failed": self.failed,
            "failed_unexcused": self.failed - self.excused,
            "failures": dict(self.failures),
        }


@dataclass
class Ledger:
    """Turn outcomes and latencies of one run (see the module docs)."""

    sent: int = 0
    answered: int = 0
    failed: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    latency: LogHistogram = field(default_factory=LogHistogram)
    overhead: LogHistogram = field(default_factory=LogHistogram)
    window: LogHistogram = field(default_factory=LogHistogram)
    window_failed: int = 0
    crashes_injected: int = 0
    by_model: dict[str, ModelLedger] = field(default_factory=dict)

    def model(self, name: str) -> ModelLedger:
        """The ledger of ``name``'s turns (made on first use)."""
        ledger = self.by_model.get(name)
        if ledger is None:
            ledger = self.by_model[name] = ModelLedger()
        return ledger

    @property
    def ended(self) -> int:
        return self.answered + self.failed

    @property
    def open(self) -> int:
        """Turns sent whose outcome has not arrived (yet)."""
        return self.sent - self.answered - self.failed

    def answer(self, seconds: float, overhead: float) -> None:
        self.answered += 1
        self.latency.record(seconds)
        self.window.record(seconds)
        self.overhead.record(max(0.0, overhead))

    def fail(self, error: BaseException, model: ModelLedger | None = None, left: float = 0) -> None:
        """Count a failed turn; with its ``model``'s ledger, by the error's cause (a
        ``TurnFailed``'s), excused when a ``RateLimited`` asked for more than ``left``."""
        self.failed += 1
        self.window_failed += 1
        self.failures[type(error).__name__] += 1
        if model is not None:
            cause = getattr(error, "cause", None) or error
            model.failed += 1
            model.failures[type(cause).__name__] += 1
            if isinstance(cause, RateLimited) and (cause.retry_after or 0) > left:
                model.excused += 1

    def take_window(self) -> tuple[LogHistogram, int]:
        """The latencies and failures since the last call; starts a new window."""
        window, failed = self.window, self.window_failed
        self.window, self.window_failed = LogHistogram(), 0
        return window, failed


@dataclass(frozen=True, slots=True)
class Sample:
    """One interval's figures. ``restarts`` counts agents restarted after a crash so far;
    ``restarts_per_s`` is the agents' supervisor's restart attempts (failed ones
    included) per second over the interval: a restart storm shows there first (None when
    the supervisor did not answer). ``llm_waiting``: LLM calls waiting, at the sample,
    for a slot under their provider's concurrency limit (``max_concurrency``)."""

    t: float
    active_agents: int
    turns_per_s: float
    response_p50: float | None
    response_p95: float | None
    response_p99: float | None
    errors: int
    rss_bytes: int
    restarts: int
    cache_hit_ratio: float | None
    loop_lag: float
    restarts_per_s: float | None = None
    llm_waiting: int = 0


@dataclass
class Series:
    """Samples in time order, and the columns a report wants."""

    samples: list[Sample] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def columns(self) -> dict[str, list[Any]]:
        names = Sample.__dataclass_fields__
        cols: dict[str, list[Any]] = {name: [] for name in names if name != "loop_lag"}
        for sample in self.samples:
            for name in cols:
                cols[name].append(getattr(sample, name))
        return cols

    def rss_peak(self) -> int | None:
        return max((s.rss_bytes for s in self.samples), default=None)

    def rss_growth(self, since: float) -> float | None:
        """RSS growth over the samples after ``since``: the mean of the last fifth of them
        minus the mean of the first fifth (means, so one noisy sample does not decide).
        None with fewer than five samples."""
        steady = [s.rss_bytes for s in self.samples if s.t >= since]
        if len(steady) < 5:
            return None
        k = max(1, len(steady) // 5)
        return sum(steady[-k:]) / k - sum(steady[:k]) / k

    def loop_lag_max(self) -> float | None:
        return max((s.loop_lag for s in self.samples), default=None)
