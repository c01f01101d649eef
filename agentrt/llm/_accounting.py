"""Accounting: per-provider counters and latency histograms.

Plain in-process structures (cheap enough for the hot path: latencies go into
``agentrt.telemetry.LogHistogram``, quantiles within ~2.2 %); ``view()`` is a plain dict,
latencies in milliseconds. Per-agent usage is not kept here: the pool reports it to its
``recorder`` (``agentrt.telemetry.UsageRecorder``), i.e. the agent's one ``AgentStats``.

Example::

    stats = ProviderStats()
    stats.latency.record(0.012)
    stats.view()["latency"]["p50_ms"]  # ~12.0
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from agentrt.llm._types import Usage
from agentrt.telemetry import LogHistogram

__all__ = ["ProviderStats"]


class ProviderStats:
    """What one provider did: requests, errors by type, retries, tokens, cost, latencies."""

    def __init__(self) -> None:
        self.requests = 0
        self.succeeded = 0
        self.errors: Counter[str] = Counter()
        self.retries = 0
        self.failovers = 0
        self.coalesced = 0
        self.cache_hits = 0
        self.embed_calls = 0
        self.embed_inputs = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0
        self.reasoning_tokens = 0
        self.cost = 0.0
        self.latency = LogHistogram()
        self.ttft = LogHistogram()
        self.queue_wait = LogHistogram()

    def add_usage(self, usage: Usage, cost: float) -> None:
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_read_tokens += usage.cache_read_tokens
        self.cache_write_tokens += usage.cache_write_tokens
        self.reasoning_tokens += usage.reasoning_tokens
        self.cost += cost

    def view(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "succeeded": self.succeeded,
            "errors": dict(self.errors),
            "retries": self.retries,
            "failovers": self.failovers,
            "coalesced": self.coalesced,
            "cache_hits": self.cache_hits,
            "embed_calls": self.embed_calls,
            "embed_inputs": self.embed_inputs,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost": round(self.cost, 9),
            "latency": self.latency.summary(unit="ms"),
            "ttft": self.ttft.summary(unit="ms"),
            "queue_wait": self.queue_wait.summary(unit="ms"),
        }
