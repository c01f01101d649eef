"""Telemetry: compact in-process statistics, an event API, targets, and their views.

Every layer records into plain in-process structures (``LogHistogram``, ``AgentStats``,
the LLM pool through ``UsageRecorder``);
OpenTelemetry, when configured (``OTelConfig``, or providers passed to the runtime),
receives aggregates and spans through ``Events`` (``OTelExporter``).

The names that need the OpenTelemetry SDK, aiohttp or prometheus_client
(``MetricStore``, ``OTelExporter``, ``PrometheusEndpoint``,
``StoreCollector``, ``SdkSpans``, ``SpanRecorder``) are handed on lazily, so importing
this package (which every layer does) loads none of them until one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentrt._lazy import lazy_exports
from agentrt.telemetry.events import Event, Events, Handler, Span
from agentrt.telemetry.exporters import MetricsExporter, OTelConfig, OTelSession, TracesExporter
from agentrt.telemetry.genai import METRIC_ATTRIBUTES, metric_views
from agentrt.telemetry.histogram import GAMMA, LogHistogram
from agentrt.telemetry.process import peak_rss_bytes, rss_bytes
from agentrt.telemetry.stats import AgentStats, UsageRecorder, WindowedHistogram
from agentrt.telemetry.targets import Targets, TargetStatus, evaluate
from agentrt.telemetry.telemetry import TOP_KEYS, Telemetry

if TYPE_CHECKING:
    from agentrt.telemetry.aggregates import MetricStore
    from agentrt.telemetry.otel import OTelExporter
    from agentrt.telemetry.prometheus import PrometheusEndpoint, StoreCollector
    from agentrt.telemetry.spans import SdkSpans, SpanRecorder
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "MetricStore": "agentrt.telemetry.aggregates",
            "OTelExporter": "agentrt.telemetry.otel",
            "PrometheusEndpoint": "agentrt.telemetry.prometheus",
            "StoreCollector": "agentrt.telemetry.prometheus",
            "SdkSpans": "agentrt.telemetry.spans",
            "SpanRecorder": "agentrt.telemetry.spans",
        },
    )

__all__ = [
    "GAMMA",
    "METRIC_ATTRIBUTES",
    "TOP_KEYS",
    "AgentStats",
    "Event",
    "Events",
    "Handler",
    "LogHistogram",
    "MetricStore",
    "MetricsExporter",
    "OTelConfig",
    "OTelExporter",
    "OTelSession",
    "PrometheusEndpoint",
    "SdkSpans",
    "Span",
    "SpanRecorder",
    "StoreCollector",
    "TargetStatus",
    "Targets",
    "Telemetry",
    "TracesExporter",
    "UsageRecorder",
    "WindowedHistogram",
    "evaluate",
    "metric_views",
    "peak_rss_bytes",
    "rss_bytes",
]
