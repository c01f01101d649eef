"""Test helpers for telemetry: OpenTelemetry providers that keep everything in memory.

``InMemoryOTel`` builds a ``MeterProvider`` (an ``InMemoryMetricReader``, agentrt's
``metric_views``) and a ``TracerProvider`` (an ``InMemorySpanExporter``), never global;
pass them to ``Runtime(meter_provider=..., tracer_provider=...)`` and read back what the
runtime recorded. The runtime does not shut providers it was given down: call
``shutdown()`` (or use it as a context manager).

Example::

    with InMemoryOTel() as otel:
        async with Runtime(meter_provider=otel.meter_provider,
                           tracer_provider=otel.tracer_provider) as rt:
            ...
        [s.name for s in otel.spans()]           # ["chat mock", "invoke_agent Helper"]
        otel.points("gen_ai.invoke_agent.duration")[0].count
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentrt.telemetry import metric_views

__all__ = ["InMemoryOTel"]


class InMemoryOTel:
    """In-memory OpenTelemetry providers (see the module docs).

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
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(shutdown_on_exit=False)
        processor = (
            BatchSpanProcessor(self.span_exporter, max_queue_size=1 << 16)
            if batch
            else SimpleSpanProcessor(self.span_exporter)
        )
        self.tracer_provider.add_span_processor(processor)

    def spans(self) -> list[ReadableSpan]:
        """Every span ended so far, in the order they ended."""
        self.tracer_provider.force_flush()
        return list(self.span_exporter.get_finished_spans())

    def span_names(self) -> list[str]:
        return [s.name for s in self.spans()]

    def metrics(self) -> dict[str, Metric]:
        """The metrics collected now, by name."""
        data = self.reader.get_metrics_data()
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
