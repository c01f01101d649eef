"""A compact log-bucket histogram: O(1) record, quantiles within ±2 %.

Values (durations in seconds, token counts, bytes: any positive number) fall into
buckets whose bounds grow by a factor ``GAMMA = 1.04``: bucket ``i`` holds
``[GAMMA**i, GAMMA**(i+1))``. A quantile is reported as the bucket's geometric midpoint,
so its relative error is at most ``(GAMMA - 1) / 2`` ≈ 2 % whatever the range (the idea
of DDSketch and HDR histograms). Zero and negative values are counted in a bucket of their
own and reported as 0.

Only the span of buckets actually used is stored, as an ``array`` of 64-bit counters with
an offset (no int objects, nothing for the garbage collector to scan): an agent whose
turns take 0.2-0.8 s holds ~35 counters (~280 bytes), not a fixed array for every
possible latency. Recording costs one ``log`` and an array increment (~0.2 µs).

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
from collections.abc import Iterable

from agentrt.errors import InvalidArgument

__all__ = ["GAMMA", "LogHistogram", "record_both"]

GAMMA = 1.04
_INV_LOG = 1.0 / math.log(GAMMA)
_MID = math.sqrt(GAMMA)  # geometric midpoint of a bucket, relative to its lower bound
_log = math.log
_floor = math.floor
_SCALES = {"": 1.0, "ms": 1e3, "us": 1e6}


class LogHistogram:
    """Counts of positive values in log buckets (see the module docs)."""

    __slots__ = ("_base", "_counts", "count", "max", "min", "total", "zeros")

    def __init__(self) -> None:
        self._base = 0
        self._counts = array("q")
        self.count = 0
        self.zeros = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def record(self, value: float) -> None:
        """Add one value."""
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value
        if value < self.min:
            self.min = value
        if value <= 0:
            self.zeros += 1
            return
        i = _floor(_log(value) * _INV_LOG)
        counts = self._counts
        j = i - self._base
        if 0 <= j < len(counts):
            counts[j] += 1
        else:
            self._grow(i)

    def _grow(self, i: int) -> None:
        counts = self._counts
        if not counts:
            self._base = i
            counts.append(1)
        elif i < self._base:
            grown = array("q", bytes(8 * (self._base - i)))
            grown[0] = 1
            grown.extend(counts)
            self._counts = grown
            self._base = i
        else:
            counts.extend(array("q", bytes(8 * (i - self._base - len(counts)))))
            counts.append(1)

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0..1) within ±2 %; 0.0 when empty. q=1 gives the max."""
        if not 0.0 <= q <= 1.0:
            raise InvalidArgument("q", f"q must be within [0, 1], got {q!r}")
        if not self.count:
            return 0.0
        if q >= 1.0:
            return self.max
        rank = q * self.count
        seen = self.zeros
        if seen > rank or (seen and seen >= rank):
            return 0.0
        j = self._from_top(rank) if q > 0.5 else self._from_bottom(rank)
        if j < 0:
            return self.max
        value = GAMMA ** (self._base + j) * _MID
        return min(max(value, self.min), self.max)

    def _from_bottom(self, rank: float) -> int:
        """The lowest used bucket whose cumulative count reaches ``rank`` (-1: none)."""
        seen = self.zeros
        for j, n in enumerate(self._counts):
            seen += n
            if seen >= rank and n:
                return j
        return -1

    def _from_top(self, rank: float) -> int:
        """``_from_bottom``, scanning down from the highest bucket: for a high quantile it
        stops after the few buckets above it (the top-N views rank many agents by p95)."""
        counts = self._counts
        above = 0  # values in buckets above j
        found = -1
        for j in range(len(counts) - 1, -1, -1):
            n = counts[j]
            if not n:
                continue
            if self.count - above < rank:
                break
            found = j
            above += n
        return found

    @property
    def mean(self) -> float:
        """Arithmetic mean (exact); 0.0 when empty."""
        return self.total / self.count if self.count else 0.0

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
        out: dict[str, float] = {"count": self.count}
        out[f"mean{suffix}"] = round(self.mean * scale, 6)
        for q in quantiles:
            out[f"p{q * 100:g}{suffix}"] = round(self.quantile(q) * scale, 6)
        out[f"max{suffix}"] = round((self.max if self.count else 0.0) * scale, 6)
        return out

    def merge(self, other: LogHistogram) -> None:
        """Add every value recorded in ``other`` to this histogram."""
        if other.count == 0:
            return
        self.count += other.count
        self.zeros += other.zeros
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        for j, n in enumerate(other._counts):
            if n:
                i = other._base + j
                k = i - self._base
                if 0 <= k < len(self._counts):
                    self._counts[k] += n
                else:
                    self._grow(i)
                    self._counts[i - self._base] += n - 1

    def reset(self) -> None:
        """Forget every value."""
        self.__init__()  # type: ignore[misc]

    def __repr__(self) -> str:
        if not self.count:
            return "LogHistogram(empty)"
        return f"LogHistogram(count={self.count}, p50={self.quantile(0.5):.4g}, max={self.max:.4g})"


def record_both(a: LogHistogram, b: LogHistogram, value: float) -> None:
    """``a.record(value); b.record(value)`` with one logarithm (a turn's latency goes to
    its agent's histogram and the node's: the hot path of ``Telemetry.record_turn``)."""
    if value <= 0:
        a.record(value)
        b.record(value)
        return
    i = _floor(_log(value) * _INV_LOG)
    a.count += 1
    a.total += value
    if value > a.max:
        a.max = value
    if value < a.min:
        a.min = value
    j = i - a._base
    if 0 <= j < len(a._counts):
        a._counts[j] += 1
    else:
        a._grow(i)
    b.count += 1
    b.total += value
    if value > b.max:
        b.max = value
    if value < b.min:
        b.min = value
    j = i - b._base
    if 0 <= j < len(b._counts):
        b._counts[j] += 1
    else:
        b._grow(i)
