"""Accounting: per-provider and per-agent counters and latency histograms.

Plain in-process structures (cheap enough for the hot path: latencies go into
``agentrt.telemetry.LogHistogram``, ~0.2 µs a record, quantiles within ±2 %);
``stats()`` views are plain dicts, latencies in milliseconds. Per-agent entries are bounded: at most
``max_agents`` are kept, the least recently used dropped first (counted in ``evicted``).

Example::

    stats = ProviderStats()
    stats.latency.record(0.012)
    stats.view()["latency"]["p50_ms"]  # ~12.0
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any

from agentrt.llm.types import Usage
from agentrt.telemetry import LogHistogram

__all__ = ["AgentStats", "AgentStatsTable", "ProviderStats"]


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


class AgentStats:
    """What one agent asked for: requests, errors by type, retries, tokens, cost, a latency
    histogram, and (kept small: one agent may be one of 100,000) the total time spent
    waiting in queues and the mean time to first token of its streams."""

    __slots__ = (
        "cost",
        "errors",
        "input_tokens",
        "latency",
        "output_tokens",
        "queue_wait_s",
        "requests",
        "retries",
        "streams",
        "ttft_s",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.errors: Counter[str] | None = None  # created at the first error
        self.retries = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0
        self.latency = LogHistogram()
        self.queue_wait_s = 0.0
        self.streams = 0
        self.ttft_s = 0.0

    def count_error(self, exc: BaseException) -> None:
        if self.errors is None:
            self.errors = Counter()
        self.errors[type(exc).__name__] += 1

    def view(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": dict(self.errors or {}),
            "retries": self.retries,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": round(self.cost, 9),
            "latency": self.latency.summary(unit="ms"),
            "queue_wait_total_ms": round(self.queue_wait_s * 1000, 3),
            "streams": self.streams,
            "ttft_mean_ms": round(self.ttft_s / self.streams * 1000, 3) if self.streams else 0.0,
        }


class AgentStatsTable:
    """Per-agent stats for at most ``max_agents`` agents (least recently used evicted)."""

    def __init__(self, max_agents: int) -> None:
        self.max_agents = max_agents
        self._agents: OrderedDict[str, AgentStats] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._agents)

    def get(self, agent_id: str) -> AgentStats | None:
        return self._agents.get(agent_id)

    def touch(self, agent_id: str) -> AgentStats:
        """The agent's stats, created when new; marks it most recently used."""
        stats = self._agents.get(agent_id)
        if stats is None:
            stats = self._agents[agent_id] = AgentStats()
            if len(self._agents) > self.max_agents:
                self._agents.popitem(last=False)
                self.evicted += 1
        else:
            self._agents.move_to_end(agent_id)
        return stats
