"""Telemetry: compact in-process statistics every layer records into."""

from __future__ import annotations

from agentrt.telemetry.histogram import GAMMA, LogHistogram
from agentrt.telemetry.process import peak_rss_bytes, rss_bytes

__all__ = ["GAMMA", "LogHistogram", "peak_rss_bytes", "rss_bytes"]
