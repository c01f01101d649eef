"""In-process OpenTelemetry histograms: recorded for ~0.5 µs, exported as aggregates.

The OpenTelemetry SDK spends 5-15 µs per ``Histogram.record`` (attribute validation,
hashing, locks, exemplar sampling); an agent turn records four of them. When agentrt
owns the metrics pipeline (``OTelConfig.metrics`` or a ``metric_exporter`` given to the
runtime) it aggregates in process instead, the way the architecture puts it: "OTel gets
aggregates". ``MetricStore`` keeps one ``ExpHistogram`` per (metric, low-cardinality
attribute set), a base-2 exponential histogram in the OpenTelemetry data model (scale 4:
16 buckets per doubling, quantiles within ~2.2 %, scaled down when more than
``MAX_BUCKETS`` would be needed), and turns them into SDK ``MetricsData`` (cumulative
temporality) for any SDK ``MetricExporter``, or explicit-bucket histograms for
Prometheus.

Exemplars: each point keeps the largest value recorded since the last export, with its
span and agent id (the slowest turn of the interval and who took it).

Example::

    store = MetricStore()
    key = ("gen_ai.invoke_agent.duration", "Helper")     # the metric, then what identifies
    store.record(key, lambda key: {"gen_ai.agent.name": key[1]}, 0.42)   # its attributes
    exporter.export(store.metrics_data(resource))
"""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.metrics import Exemplar
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

__all__ = ["MAX_BUCKETS", "MAX_POINTS", "SCALE", "ExpHistogram", "MetricStore"]

SCALE = 4  # 2**(1/16): buckets ~4.4 % wide
MAX_BUCKETS = 320  # then the scale drops (two buckets merge into one)
MAX_POINTS = 2000  # attribute sets per metric, as the SDK; then one overflow point
_OVERFLOW = {"otel.metric.overflow": True}
_log = math.log
_ceil = math.ceil
_frexp = math.frexp


class ExpHistogram:
    """A base-2 exponential histogram of non-negative values (OpenTelemetry's model:
    bucket ``i`` holds ``(base**i, base**(i+1)]``, ``base = 2**(2**-scale)``)."""

    __slots__ = (
        "_factor",
        "count",
        "counts",
        "exemplar",
        "max",
        "min",
        "offset",
        "scale",
        "sum",
        "zero_count",
    )

    def __init__(self, scale: int = SCALE) -> None:
        self.scale = scale
        self._factor = 2**scale / math.log(2)
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.zero_count = 0
        self.offset = 0
        self.counts = array("q")
        #: (value, time_ns, span, agent_id) of the largest value since the last export
        self.exemplar: tuple[float, int, Any, Any] | None = None

    def record(self, value: float) -> None:
        self.count += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if value <= 0:
            self.zero_count += 1
            return
        mantissa, exp = _frexp(value)
        if mantissa == 0.5:  # an exact power of two is the upper bound of its bucket
            i = ((exp - 1) << self.scale) - 1 if self.scale >= 0 else ((exp - 1) >> -self.scale) - 1
        else:
            i = _ceil(_log(value) * self._factor) - 1
        counts = self.counts
        j = i - self.offset
        if 0 <= j < len(counts):
            counts[j] += 1
        else:
            self._grow(i)

    def _grow(self, i: int) -> None:
        counts = self.counts
        if not counts:
            self.offset = i
            counts.append(1)
            return
        low, high = min(i, self.offset), max(i, self.offset + len(counts) - 1)
        while high - low + 1 > MAX_BUCKETS:
            self._downscale()
            i >>= 1
            low, high = low >> 1, high >> 1
            counts = self.counts
        if i < self.offset:
            self.counts = array("q", bytes(8 * (self.offset - i))) + counts
            self.offset = i
        elif i >= self.offset + len(counts):
            counts.extend(array("q", bytes(8 * (i - self.offset - len(counts) + 1))))
        self.counts[i - self.offset] += 1

    def _downscale(self) -> None:
        """Halve the resolution: bucket ``i`` becomes ``i >> 1``."""
        merged: dict[int, int] = {}
        for j, n in enumerate(self.counts):
            if n:
                k = (self.offset + j) >> 1
                merged[k] = merged.get(k, 0) + n
        self.scale -= 1
        self._factor = 2**self.scale / math.log(2)
        low = min(merged) if merged else 0
        self.offset = low
        self.counts = array("q", bytes(8 * ((max(merged) - low + 1) if merged else 0)))
        for k, n in merged.items():
            self.counts[k - low] = n

    def copy(self) -> ExpHistogram:
        """A snapshot (the counts copied; no exemplar)."""
        out = ExpHistogram(self.scale)
        out.count, out.sum, out.min, out.max = self.count, self.sum, self.min, self.max
        out.zero_count, out.offset, out.counts = (
            self.zero_count,
            self.offset,
            array("q", self.counts),
        )
        return out

    def upper_bound(self, index: int) -> float:
        """The upper bound of bucket ``index``."""
        return float(2 ** ((index + 1) / 2**self.scale))

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0..1), a bucket's geometric midpoint (for checks and
        views; exporters send the buckets)."""
        if not self.count:
            return 0.0
        rank, seen = q * self.count, self.zero_count
        if seen >= rank:
            return 0.0
        for j, n in enumerate(self.counts):
            seen += n
            if seen >= rank and n:
                mid = float(2 ** ((self.offset + j + 0.5) / 2**self.scale))
                return min(max(mid, self.min), self.max)
        return self.max

    def explicit_counts(self, bounds: Sequence[float]) -> list[int]:
        """Counts for explicit ``bounds`` (one per bound, then +Inf; not cumulative): a
        bucket goes where its upper bound does, exact when ``bounds`` are powers of
        ``2**(1/2**scale)`` (rounded to 6 digits)."""
        out = [0] * (len(bounds) + 1)
        out[0] += self.zero_count
        k = 0
        for j, n in enumerate(self.counts):
            if not n:
                continue
            upper = self.upper_bound(self.offset + j)
            while k < len(bounds) and upper > bounds[k] * (1 + 1e-5):
                k += 1
            out[k] += n
        return out


class _Point:
    __slots__ = ("attributes", "histogram")

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = attributes
        self.histogram = ExpHistogram()


class MetricStore:
    """``ExpHistogram``s by metric name and attribute set (see the module docs)."""

    def __init__(self, instruments: dict[str, tuple[str, str]]) -> None:
        self.instruments = instruments  # name -> (unit, description)
        self.start_ns = time.time_ns()
        self._points: dict[tuple[Any, ...], _Point] = {}
        self._per_metric: dict[str, list[_Point]] = {name: [] for name in instruments}
        self.overflowed = 0

    def record(
        self,
        key: tuple[Any, ...],
        attributes: Callable[[tuple[Any, ...]], dict[str, Any]],
        value: float,
        span: Any = None,
        agent_id: Any = None,
    ) -> None:
        """Add ``value`` to metric ``key[0]`` under the attributes ``key`` stands for
        (``attributes(key)`` builds them the first time). ``span``/``agent_id`` make the
        measurement an exemplar candidate."""
        point = self._points.get(key)
        if point is None:
            point = self._new_point(key, attributes)
        hist = point.histogram
        hist.record(value)
        if span is not None or agent_id is not None:
            ex = hist.exemplar
            if ex is None or value > ex[0]:
                hist.exemplar = (value, time.time_ns(), span, agent_id)

    def _new_point(
        self, key: tuple[Any, ...], attributes: Callable[[tuple[Any, ...]], dict[str, Any]]
    ) -> _Point:
        points = self._per_metric[key[0]]
        if len(points) >= MAX_POINTS:
            self.overflowed += 1
            overflow = (key[0], "overflow")
            point = self._points.get(overflow)
            if point is None:
                point = self._points[overflow] = _Point(dict(_OVERFLOW))
                points.append(point)
            return point
        point = self._points[key] = _Point(attributes(key))
        points.append(point)
        return point

    def points(self, name: str) -> list[tuple[dict[str, Any], ExpHistogram]]:
        """The attribute sets and histograms of metric ``name``."""
        return [(p.attributes, p.histogram) for p in self._per_metric.get(name, ())]

    def snapshot(self) -> dict[str, list[tuple[dict[str, Any], ExpHistogram]]]:
        """Every metric's attribute sets and a copy of their histograms (cheap: made on
        the loop so that slow rendering can happen in a thread)."""
        return {
            name: [(p.attributes, p.histogram.copy()) for p in points]
            for name, points in self._per_metric.items()
        }

    def metrics_data(
        self,
        resource: Resource,
        scope: InstrumentationScope,
        explicit: dict[str, Any] | None = None,
    ) -> MetricsData:
        """Everything recorded so far as SDK ``MetricsData`` (cumulative), exponential
        histograms unless ``explicit`` maps units to bucket bounds. Takes the exemplars
        (each is exported once)."""
        now = time.time_ns()
        metrics = []
        for name, (unit, description) in self.instruments.items():
            points = self._per_metric[name]
            if not points:
                continue
            data: Any
            if explicit is None:
                data = ExponentialHistogram(
                    [self._exp_point(p, now) for p in points], AggregationTemporality.CUMULATIVE
                )
            else:
                bounds = explicit[unit]
                data = Histogram(
                    [self._explicit_point(p, now, bounds) for p in points],
                    AggregationTemporality.CUMULATIVE,
                )
            metrics.append(Metric(name, description, unit, data))
        return MetricsData([ResourceMetrics(resource, [ScopeMetrics(scope, metrics, "")], "")])

    def _exp_point(self, point: _Point, now: int) -> ExponentialHistogramDataPoint:
        h = point.histogram
        return ExponentialHistogramDataPoint(
            attributes=point.attributes,
            start_time_unix_nano=self.start_ns,
            time_unix_nano=now,
            count=h.count,
            sum=h.sum,
            scale=h.scale,
            zero_count=h.zero_count,
            positive=Buckets(h.offset, list(h.counts)),
            negative=Buckets(0, []),
            flags=0,
            min=h.min,
            max=h.max,
            exemplars=_take_exemplar(h),
        )

    def _explicit_point(
        self, point: _Point, now: int, bounds: Sequence[float]
    ) -> HistogramDataPoint:
        h = point.histogram
        return HistogramDataPoint(
            attributes=point.attributes,
            start_time_unix_nano=self.start_ns,
            time_unix_nano=now,
            count=h.count,
            sum=h.sum,
            bucket_counts=h.explicit_counts(bounds),
            explicit_bounds=list(bounds),
            min=h.min,
            max=h.max,
            exemplars=_take_exemplar(h),
        )


def _take_exemplar(h: ExpHistogram) -> list[Exemplar]:
    ex, h.exemplar = h.exemplar, None
    if ex is None:
        return []
    value, at, span, agent_id = ex
    span_id = trace_id = None
    if span is not None:
        ctx = span.get_span_context()
        span_id, trace_id = ctx.span_id, ctx.trace_id
    filtered = (
        {"gen_ai.agent.id": agent_id, "gen_ai.conversation.id": agent_id}
        if agent_id is not None
        else None
    )
    return [Exemplar(filtered, value, at, span_id, trace_id)]
