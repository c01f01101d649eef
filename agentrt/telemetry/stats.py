"""Compact in-process statistics: one ``AgentStats`` per agent, windowed histograms.

Recording is plain attribute arithmetic plus histogram records (a turn's record costs
~0.4 µs: ``loadtest/bench/telemetry.py``), far from OpenTelemetry's 4-10 µs per SDK metric
call: this is what runs on the hot path, and OpenTelemetry, when configured, gets
aggregates and spans through the event API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentrt.telemetry.histogram import LogHistogram

__all__ = ["AgentStats", "WindowedHistogram"]


class AgentStats:
    """What one agent did since it was spawned (kept while it is passivated).

    ``latency`` holds its turn latencies (seconds). ``llm_s``/``tool_s``: seconds spent
    waiting for the LLM and in tools. ``bytes_held``: its conversation's estimated
    in-memory size, read when viewed from ``bytes_source`` (set by the live agent), else
    the last value read (a passivated agent's last size).
    """

    __slots__ = (
        "agent_class",
        "bytes_held",
        "bytes_source",
        "cache_hits",
        "cache_misses",
        "cost",
        "errors",
        "last_turn",
        "latency",
        "llm_s",
        "tokens_in",
        "tokens_out",
        "tool_calls",
        "tool_s",
        "turns",
    )

    def __init__(self, agent_class: str) -> None:
        self.agent_class = agent_class
        self.turns = 0
        self.errors = 0
        self.latency = LogHistogram()
        self.llm_s = 0.0
        self.tool_s = 0.0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost = 0.0
        self.tool_calls = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.bytes_held = 0
        self.bytes_source: Callable[[], int] | None = None
        self.last_turn = 0.0

    def view(self) -> dict[str, Any]:
        """The stats as a JSON-serialisable dict (latencies in milliseconds)."""
        lat = self.latency
        if self.bytes_source is not None:
            self.bytes_held = self.bytes_source()
        return {
            "agent_class": self.agent_class,
            "turns": self.turns,
            "errors": self.errors,
            "p50_ms": round(lat.quantile(0.5) * 1000, 3),
            "p95_ms": round(lat.quantile(0.95) * 1000, 3),
            "p99_ms": round(lat.quantile(0.99) * 1000, 3),
            "llm_s": round(self.llm_s, 6),
            "tool_s": round(self.tool_s, 6),
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": round(self.cost, 9),
            "tool_calls": self.tool_calls,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "bytes_held": self.bytes_held,
            "last_turn": self.last_turn,
        }


class WindowedHistogram:
    """A histogram of the recent past plus the all-time one.

    ``rotate()`` (called every half window by the runtime's telemetry tick) starts a new
    generation; ``recent`` merges the current and the previous generation, i.e. between
    half a window and a full window of values; ``total`` merges every generation. A
    value is recorded once (into the current generation): merging happens on reads.
    """

    __slots__ = ("_closed", "_previous", "current", "record")

    def __init__(self) -> None:
        #: the current generation (recording into it is recording)
        self.current = LogHistogram()
        self._previous = LogHistogram()
        self._closed = LogHistogram()  # every generation rotated out so far
        #: ``record(value)``: add a value (the current generation's bound method).
        self.record = self.current.record

    def rotate(self) -> None:
        self._closed.merge(self.current)
        self._previous = self.current
        self.current = LogHistogram()
        self.record = self.current.record

    @property
    def count(self) -> int:
        """Values recorded since the start."""
        return self._closed.count + self.current.count

    @property
    def total(self) -> LogHistogram:
        merged = LogHistogram()
        merged.merge(self._closed)
        merged.merge(self.current)
        return merged

    @property
    def recent(self) -> LogHistogram:
        merged = LogHistogram()
        merged.merge(self._previous)
        merged.merge(self.current)
        return merged
