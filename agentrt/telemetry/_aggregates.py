"""In-process OpenTelemetry histograms: recorded for ~0.5 µs, exported as aggregates.

The OpenTelemetry SDK spends 5-15 µs per ``Histogram.record`` (attribute validation,
hashing, locks, exemplar sampling); an agent turn records four of them. When agentrt
owns the metrics pipeline (``OTelConfig.metrics`` or a ``metric_exporter`` given to the
runtime) it aggregates in process instead, the way the architecture puts it: "OTel gets
aggregates". ``MetricStore`` keeps one ``LogHistogram`` per (metric, low-cardinality
attribute set), agentrt's one histogram type, whose buckets are those of OpenTelemetry's
exponential histogram (scale 4: 16 buckets per doubling, quantiles within ~2.2 %, scaled
down when more than ``MAX_BUCKETS`` would be needed), and turns them into SDK
``MetricsData`` (cumulative temporality) for any SDK ``MetricExporter``, or
explicit-bucket histograms for Prometheus.

Exemplars: each point keeps the largest value recorded since the last export, with its
span and agent id (the slowest turn of the interval and who took it).

Example::

    store = MetricStore()
    key = ("gen_ai.invoke_agent.duration", "Helper")     # the metric, then what identifies
    store.record(key, lambda key: {"gen_ai.agent.name": key[1]}, 0.42)   # its attributes
    exporter.export(store.metrics_data(resource))
"""

from __future__ import annotations

import time
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

from agentrt.telemetry._histogram import LogHistogram

__all__ = ["MAX_POINTS", "MetricStore"]

MAX_POINTS = 2000  # attribute sets per metric, as the SDK; then one overflow point
_OVERFLOW = {"otel.metric.overflow": True}


class _Point:
    __slots__ = ("attributes", "exemplar", "histogram")

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = attributes
        self.histogram = LogHistogram()
        #: (value, time_ns, span, agent_id) of the largest value since the last export
        self.exemplar: tuple[float, int, Any, Any] | None = None


class MetricStore:
    """``LogHistogram``s by metric name and attribute set (see the module docs)."""

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
        point.histogram.record(value)
        if span is not None or agent_id is not None:
            ex = point.exemplar
            if ex is None or value > ex[0]:
                point.exemplar = (value, time.time_ns(), span, agent_id)

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

    def points(self, name: str) -> list[tuple[dict[str, Any], LogHistogram]]:
        """The attribute sets and histograms of metric ``name``."""
        return [(p.attributes, p.histogram) for p in self._per_metric.get(name, ())]

    def snapshot(self) -> dict[str, list[tuple[dict[str, Any], LogHistogram]]]:
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
            zero_count=h.zeros,
            positive=Buckets(h.offset, list(h.counts)),
            negative=Buckets(0, []),
            flags=0,
            min=h.min,
            max=h.max,
            exemplars=_take_exemplar(point),
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
            exemplars=_take_exemplar(point),
        )


def _take_exemplar(point: _Point) -> list[Exemplar]:
    ex, point.exemplar = point.exemplar, None
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
