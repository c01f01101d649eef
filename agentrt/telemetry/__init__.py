"""Telemetry: compact in-process statistics, an event API, targets, and their views.

Every layer records into plain in-process structures (``LogHistogram``, ``AgentStats``);
OpenTelemetry, when configured (``OTelConfig``, or providers passed to the runtime),
receives aggregates and spans through ``Events`` (``OTelExporter``).
"""

from __future__ import annotations

from agentrt.telemetry.events import Event, Events, Handler, Span
from agentrt.telemetry.exporters import MetricsExporter, OTelConfig, OTelSession, TracesExporter
from agentrt.telemetry.histogram import GAMMA, LogHistogram
from agentrt.telemetry.otel import METRIC_ATTRIBUTES, OTelExporter, metric_views
from agentrt.telemetry.process import peak_rss_bytes, rss_bytes
from agentrt.telemetry.prometheus import PrometheusEndpoint
from agentrt.telemetry.stats import AgentStats, WindowedHistogram
from agentrt.telemetry.targets import Targets, TargetStatus, evaluate
from agentrt.telemetry.telemetry import TOP_KEYS, Telemetry

__all__ = [
    "GAMMA",
    "METRIC_ATTRIBUTES",
    "TOP_KEYS",
    "AgentStats",
    "Event",
    "Events",
    "Handler",
    "LogHistogram",
    "MetricsExporter",
    "OTelConfig",
    "OTelExporter",
    "OTelSession",
    "PrometheusEndpoint",
    "Span",
    "TargetStatus",
    "Targets",
    "Telemetry",
    "TracesExporter",
    "WindowedHistogram",
    "evaluate",
    "metric_views",
    "peak_rss_bytes",
    "rss_bytes",
]
