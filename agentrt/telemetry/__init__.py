"""Telemetry: compact in-process statistics, an event API, targets, and their views.

Every layer records into plain in-process structures (``LogHistogram``, ``AgentStats``);
OpenTelemetry, when configured, receives aggregates and spans through ``Events``.
"""

from __future__ import annotations

from agentrt.telemetry.events import Event, Events, Handler, Span
from agentrt.telemetry.histogram import GAMMA, LogHistogram
from agentrt.telemetry.process import peak_rss_bytes, rss_bytes
from agentrt.telemetry.stats import AgentStats, WindowedHistogram
from agentrt.telemetry.targets import Targets, TargetStatus, evaluate
from agentrt.telemetry.telemetry import TOP_KEYS, Telemetry

__all__ = [
    "GAMMA",
    "TOP_KEYS",
    "AgentStats",
    "Event",
    "Events",
    "Handler",
    "LogHistogram",
    "Span",
    "TargetStatus",
    "Targets",
    "Telemetry",
    "WindowedHistogram",
    "evaluate",
    "peak_rss_bytes",
    "rss_bytes",
]
