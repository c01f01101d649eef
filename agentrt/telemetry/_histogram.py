"""The one histogram of agentrt: base-2 exponential buckets, O(1) record, mergeable.

Values (durations in seconds, token counts, bytes: any positive number) fall into the
buckets of OpenTelemetry's exponential histogram: at scale ``s`` the base is
``2 ** 2**-s`` and bucket ``i`` holds ``(base**i, base**(i+1)]``. The default scale,
``SCALE = 4`` (16 buckets per doubling, ``GAMMA = 2**(1/16)`` ≈ 1.0443), reports a
quantile as its bucket's geometric midpoint, within ``sqrt(GAMMA) - 1`` ≈ 2.2 % of the
exact value whatever the range (the idea of DDSketch and HDR histograms). Zero and
negative values are counted in a bucket of their own and reported as 0. Exact powers of
two land in the bucket they bound (``log2`` is exact for them), so token counts 1, 2, 4
sit in Prometheus' ``le="1"``, ``le="2"``, ``le="4"`` buckets.

The same type serves per-agent stats, node-wide windows and the OpenTelemetry export
(``MetricStore`` sends its buckets as they are, as an ``ExponentialHistogramDataPoint``).

Only the span of buckets actually used is stored, as an ``array`` of 64-bit counters with
an offset (no int objects, nothing for the garbage collector to scan): an agent whose
turns take 0.2-0.8 s holds ~33 counters (~260 bytes). A span wider than ``MAX_BUCKETS``
halves the resolution (the scale drops by one, two buckets merge) so that memory stays
bounded whatever is recorded. ``merge`` brings two histograms to the coarser scale of the
two. Recording costs one ``log2`` and an array increment (``loadtest/bench/telemetry.py``
measures it against its peers).

Example::

    h = LogHistogram()
    for s in (0.120, 0.180, 0.250, 1.5):
        h.record(s)
    h.quantile(0.5)      # ≈ 0.18
    h.summary()          # {"count": 4, "mean": ..., "p50": ..., "p95": ..., "p99": ..., "max": 1.5}
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence

from agentrt.errors import InvalidArgument

__all__ = ["GAMMA", "MAX_BUCKETS", "SCALE", "LogHistogram"]

SCALE = 4  # 2**(1/16): buckets ~4.4 % wide, quantiles within ~2.2 %
GAMMA = 2 ** (2**-SCALE)
MAX_BUCKETS = 640  # 40 doublings at SCALE (1 µs .. 1e6 s); wider spans drop the scale
_log2 = math.log2
_ceil = math.ceil
_SCALES = {"": 1.0, "ms": 1e3, "us": 1e6}


class LogHistogram:
    """Counts of positive values in base-2 exponential buckets (see the module docs).

    ``scale`` (default ``SCALE``): the starting resolution; it only ever drops, when the
    recorded span would need more than ``MAX_BUCKETS`` buckets.
    """

    __slots__ = ("_base", "_counts", "_factor", "max", "min", "scale", "total", "zeros")

    def __init__(self, scale: int = SCALE) -> None:
        self.scale = scale
        self._factor = 2.0**scale  # index = ceil(log2(value) * factor) - 1
        self._base = 0  # the index of _counts[0]
        self._counts = array("q")
        self.zeros = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def record(self, value: float) -> None:
        """Add one value."""
        self.total += value
        if value > self.max:
            self.max = value
        if value < self.min:
            self.min = value
        if value <= 0:
            self.zeros += 1
            return
        i = _ceil(_log2(value) * self._factor) - 1
        j = i - self._base
        if j >= 0:
            try:
                self._counts[j] += 1
                return
            except IndexError:  # above the stored span
                pass
        self._add(i, 1)

    def _add(self, i: int, n: int) -> None:
        """Add ``n`` to bucket ``i`` (at the current scale), growing the span (and dropping
        the scale when the span would exceed ``MAX_BUCKETS``)."""
        counts = self._counts
        if not counts:
            self._base = i
            counts.append(n)
            return
        low, high = min(i, self._base), max(i, self._base + len(counts) - 1)
        while high - low >= MAX_BUCKETS:
            self._downscale()
            i, low, high = i >> 1, low >> 1, high >> 1
        counts = self._counts
        if i < self._base:
            counts[0:0] = array("q", bytes(8 * (self._base - i)))
            self._base = i
        elif i >= self._base + len(counts):
            counts.extend(array("q", bytes(8 * (i - self._base - len(counts) + 1))))
        counts[i - self._base] += n

    def _downscale(self) -> None:
        """Halve the resolution: bucket ``i`` becomes ``i >> 1``."""
        old, base = self._counts, self._base
        self.scale -= 1
        self._factor = 2.0**self.scale
        self._base = base >> 1
        merged = array("q", bytes(8 * (((base + len(old) - 1) >> 1) - self._base + 1)))
        for j, n in enumerate(old):
            if n:
                merged[((base + j) >> 1) - self._base] += n
        self._counts = merged

    @property
    def count(self) -> int:
        """Values recorded (summed from the buckets when read: recording skips it)."""
        return sum(self._counts) + self.zeros

    @property
    def offset(self) -> int:
        """The index of the first stored bucket (OpenTelemetry's ``offset``)."""
        return self._base

    @property
    def counts(self) -> Sequence[int]:
        """The stored buckets' counts, from bucket ``offset`` up."""
        return self._counts

    @property
    def sum(self) -> float:
        """The sum of the values (OpenTelemetry's name for ``total``)."""
        return self.total

    def upper_bound(self, index: int) -> float:
        """The upper bound of bucket ``index`` at the current scale."""
        return float(2 ** ((index + 1) / self._factor))

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0..1) within ~2.2 % (at ``SCALE``); 0.0 when empty. q=1
        gives the max. Raises ``InvalidArgument`` for a ``q`` outside [0, 1]."""
        if not 0.0 <= q <= 1.0:
            raise InvalidArgument("q", f"q must be within [0, 1], got {q!r}")
        count = self.count
        if not count:
            return 0.0
        if q >= 1.0:
            return self.max
        rank = q * count
        seen = self.zeros
        if seen > rank or (seen and seen >= rank):
            return 0.0
        j = self._from_top(rank, count) if q > 0.5 else self._from_bottom(rank)
        if j < 0:
            return self.max
        value = 2 ** ((self._base + j + 0.5) / self._factor)
        return float(min(max(value, self.min), self.max))

    def _from_bottom(self, rank: float) -> int:
        """The lowest used bucket whose cumulative count reaches ``rank`` (-1: none)."""
        seen = self.zeros
        for j, n in enumerate(self._counts):
            seen += n
            if seen >= rank and n:
                return j
        return -1

    def _from_top(self, rank: float, count: int) -> int:
        """``_from_bottom``, scanning down from the highest bucket: for a high quantile it
        stops after the few buckets above it (the top-N views rank many agents by p95)."""
        counts = self._counts
        above = 0  # values in buckets above j
        found = -1
        for j in range(len(counts) - 1, -1, -1):
            n = counts[j]
            if not n:
                continue
            if count - above < rank:
                break
            found = j
            above += n
        return found

    @property
    def mean(self) -> float:
        """Arithmetic mean (exact); 0.0 when empty."""
        count = self.count
        return self.total / count if count else 0.0

    def summary(
        self, quantiles: Iterable[float] = (0.5, 0.95, 0.99), unit: str = ""
    ) -> dict[str, float]:
        """``{"count", "mean", "p50", "p95", "p99", "max"}`` (keys follow ``quantiles``).

        With ``unit`` ``"ms"`` or ``"us"`` (values recorded in seconds) the figures are
        scaled and their keys suffixed: ``{"count", "mean_ms", "p50_ms", ...}``.
        """
        scale = _SCALES.get(unit)
        if scale is None:
            raise InvalidArgument("unit", f"unit must be one of {sorted(_SCALES)}, got {unit!r}")
        suffix = f"_{unit}" if unit else ""
        count = self.count
        out: dict[str, float] = {"count": count}
        out[f"mean{suffix}"] = round(self.mean * scale, 6)
        for q in quantiles:
            out[f"p{q * 100:g}{suffix}"] = round(self.quantile(q) * scale, 6)
        out[f"max{suffix}"] = round((self.max if count else 0.0) * scale, 6)
        return out

    def explicit_counts(self, bounds: Sequence[float]) -> list[int]:
        """Counts for explicit ``bounds`` (one per bound, then +Inf; not cumulative): a
        bucket goes where its upper bound does, exact when ``bounds`` are powers of
        ``GAMMA`` (rounded to 6 digits). Zeros go in the first bucket."""
        out = [0] * (len(bounds) + 1)
        out[0] += self.zeros
        k = 0
        for j, n in enumerate(self._counts):
            if not n:
                continue
            upper = self.upper_bound(self._base + j)
            while k < len(bounds) and upper > bounds[k] * (1 + 1e-5):
                k += 1
            out[k] += n
        return out

    def merge(self, other: LogHistogram) -> None:
        """Add every value recorded in ``other`` to this histogram (at the coarser scale
        of the two; ``other`` is left unchanged)."""
        if other.max == -math.inf:  # nothing recorded
            return
        self.zeros += other.zeros
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        while self.scale > other.scale:
            self._downscale()
        shift = other.scale - self.scale
        for j, n in enumerate(other._counts):
            if n:
                self._add((other._base + j) >> shift, n)

    def copy(self) -> LogHistogram:
        """An independent copy (for a snapshot rendered elsewhere)."""
        out = LogHistogram(self.scale)
        out.merge(self)
        return out

    def reset(self) -> None:
        """Forget every value (back to ``SCALE``)."""
        self.__init__()  # type: ignore[misc]

    def __repr__(self) -> str:
        if self.max == -math.inf:
            return "LogHistogram(empty)"
        return f"LogHistogram(count={self.count}, p50={self.quantile(0.5):.4g}, max={self.max:.4g})"
