"""Telemetry: compact in-process statistics, an event API, targets, and their views.

Every layer records into plain in-process structures (``LogHistogram``, ``AgentStats``,
the LLM pool through ``UsageRecorder``);
OpenTelemetry, when configured (``OTelConfig``, or providers passed to the runtime),
receives aggregates and spans through ``Events`` (an ``OTelSession``, ``rt.otel``).

Importing this package (which every layer does) loads neither the OpenTelemetry SDK nor
aiohttp nor prometheus_client: the session imports them when it starts.
"""

from __future__ import annotations

from agentrt.telemetry._alerts import Alert, Alerts, AlertsConfig, WebhookSink
from agentrt.telemetry._cluster import STATS_DAMAGED, ClusterTotals, ClusterView, NodeStats
from agentrt.telemetry._events import Event, Events, Handler, Span
from agentrt.telemetry._exporters import MetricsExporter, OTelConfig, OTelSession, TracesExporter
from agentrt.telemetry._genai import METRIC_ATTRIBUTES, metric_views
from agentrt.telemetry._histogram import LogHistogram
from agentrt.telemetry._logs import JsonFormatter, LogContextFilter, configure_logging
from agentrt.telemetry._stats import AgentStats, UsageRecorder, WindowedHistogram
from agentrt.telemetry._targets import Targets, TargetStatus
from agentrt.telemetry._telemetry import TOP_KEYS, Telemetry

__all__ = [
    "METRIC_ATTRIBUTES",
    "STATS_DAMAGED",
    "TOP_KEYS",
    "AgentStats",
    "Alert",
    "Alerts",
    "AlertsConfig",
    "ClusterTotals",
    "ClusterView",
    "Event",
    "Events",
    "Handler",
    "JsonFormatter",
    "LogContextFilter",
    "LogHistogram",
    "MetricsExporter",
    "NodeStats",
    "OTelConfig",
    "OTelSession",
    "Span",
    "TargetStatus",
    "Targets",
    "Telemetry",
    "TracesExporter",
    "UsageRecorder",
    "WebhookSink",
    "WindowedHistogram",
    "configure_logging",
    "metric_views",
]
