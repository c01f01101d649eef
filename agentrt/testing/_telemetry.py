"""Test helpers for telemetry: OpenTelemetry that keeps everything in memory.

``InMemoryOTel`` holds in-memory exporters and providers, never global. Give a runtime
the exporters (``Runtime(**otel.exporters())``: agentrt's own pipeline, metrics
aggregated in process) or the providers (``Runtime(**otel.providers())``: the SDK's
path), then read back what it recorded. The runtime shuts down the pipeline it built
for the exporters when it closes (the spans and metrics stay readable) and never the
providers it was given: call ``shutdown()``, or use it as a context manager.

Example::

    with InMemoryOTel() as otel:
        async with Runtime(**otel.exporters()) as rt:
            ...
        [s.name for s in otel.spans()]           # ["chat mock", "invoke_agent Helper"]
        otel.points("gen_ai.invoke_agent.duration")[0].count
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentrt.telemetry import metric_views

__all__ = ["InMemoryMetricExporter", "InMemoryOTel"]


class InMemoryMetricExporter(MetricExporter):
    """A metric exporter that keeps every ``MetricsData`` it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.exports: list[MetricsData] = []
        self.shut_down = False

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.exports.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.shut_down = True


class InMemoryOTel:
    """In-memory OpenTelemetry exporters and providers (see the module docs).

    ``views`` default to ``metric_views()`` (exponential histograms, low-cardinality
    attributes). ``batch=True`` ends spans through a ``BatchSpanProcessor`` (as a
    production setup would; ``spans()`` flushes it first) instead of a
    ``SimpleSpanProcessor``.
    """

    def __init__(self, *, views: Sequence[View] | None = None, batch: bool = False) -> None:
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(
            metric_readers=[self.reader],
            views=list(views) if views is not None else metric_views(),
            shutdown_on_exit=False,
        )
        self.metric_exporter = InMemoryMetricExporter()
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(shutdown_on_exit=False)
        processor = (
            BatchSpanProcessor(self.span_exporter, max_queue_size=1 << 16)
            if batch
            else SimpleSpanProcessor(self.span_exporter)
        )
        self.tracer_provider.add_span_processor(processor)

    def exporters(self) -> dict[str, Any]:
        """``Runtime`` keywords for agentrt's own pipeline into these exporters."""
        return {"metric_exporter": self.metric_exporter, "span_exporter": self.span_exporter}

    def providers(self) -> dict[str, Any]:
        """``Runtime`` keywords to record through these SDK providers."""
        return {"meter_provider": self.meter_provider, "tracer_provider": self.tracer_provider}

    def spans(self) -> list[ReadableSpan]:
        """Every span ended so far, in the order they ended."""
        self.tracer_provider.force_flush()
        return list(self.span_exporter.get_finished_spans())

    def span_names(self) -> list[str]:
        return [s.name for s in self.spans()]

    def metrics(self) -> dict[str, Metric]:
        """The metrics by name: the last export to ``metric_exporter`` if there was one,
        else what the meter provider collects now."""
        exports = self.metric_exporter.exports
        data = exports[-1] if exports else self.reader.get_metrics_data()
        out: dict[str, Metric] = {}
        if data is None:
            return out
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out[metric.name] = metric
        return out

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` (empty when it was never recorded)."""
        metric = self.metrics().get(name)
        return list(metric.data.data_points) if metric is not None else []

    def clear(self) -> None:
        """Forget the spans recorded so far (metrics are cumulative)."""
        self.tracer_provider.force_flush()
        self.span_exporter.clear()

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()

    def __enter__(self) -> InMemoryOTel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
