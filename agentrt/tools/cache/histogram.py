"""A fixed-size latency histogram (log2 buckets of microseconds): O(1) record, bounded.

Example::

    h = LatencyHistogram()
    h.record(0.000012)           # seconds
    h.percentile_us(50)          # upper bound of the bucket holding the median: 16.0
"""

from __future__ import annotations

__all__ = ["LatencyHistogram"]

_BUCKETS = 32  # 1 us .. ~2,000 s


class LatencyHistogram:
    """Counts of durations in buckets ``[2**(i-1), 2**i)`` microseconds."""

    __slots__ = ("count", "counts", "total_s")

    def __init__(self) -> None:
        self.counts = [0] * _BUCKETS
        self.count = 0
        self.total_s = 0.0

    def record(self, seconds: float) -> None:
        """Add one duration."""
        bucket = int(seconds * 1e6).bit_length()
        self.counts[bucket if bucket < _BUCKETS else _BUCKETS - 1] += 1
        self.count += 1
        self.total_s += seconds

    def percentile_us(self, q: float) -> float:
        """Upper bound (us) of the bucket holding the ``q``-th percentile; 0.0 when empty."""
        if not self.count:
            return 0.0
        rank = max(1, round(q / 100 * self.count))
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return float(1 << i)
        return float(1 << (_BUCKETS - 1))

    def summary(self) -> dict[str, float]:
        """``{"count", "mean_us", "p50_us", "p90_us", "p99_us"}`` (percentiles are bucket
        upper bounds)."""
        mean = self.total_s / self.count * 1e6 if self.count else 0.0
        return {
            "count": self.count,
            "mean_us": round(mean, 2),
            "p50_us": self.percentile_us(50),
            "p90_us": self.percentile_us(90),
            "p99_us": self.percentile_us(99),
        }
