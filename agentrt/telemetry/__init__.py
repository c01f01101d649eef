"""Telemetry: compact in-process statistics every layer records into."""

from __future__ import annotations

from agentrt.telemetry.histogram import GAMMA, LogHistogram

__all__ = ["GAMMA", "LogHistogram"]
