"""Accounting: per-provider counters and latency histograms, and per model of a
provider its own counters (``ModelStats``: requests, errors by class, rate-limit waits,
tokens, cost).

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

__all__ = ["MAX_MODELS", "OTHER_MODEL", "ModelStats", "ProviderStats"]

#: Models tracked apart per provider; requests naming further models are counted under
#: ``OTHER_MODEL`` (a caller choosing model names must not grow the stats, nor the
#: Prometheus label sets, without bound).
MAX_MODELS = 64
OTHER_MODEL = "<other>"


class ModelStats:
    """What one provider did for one model: requests admitted, answers, errors by class
    (``LLMError`` subclasses by name; cancellations as ``Cancelled``), rate-limit waits
    (for the rpm/tpm buckets and for a pause the server asked for with 429/Retry-After)
    and their seconds, tokens and cost."""

    __slots__ = (
        "cost",
        "errors",
        "input_tokens",
        "output_tokens",
        "rate_limit_wait_s",
        "rate_limit_waits",
        "requests",
        "succeeded",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.succeeded = 0
        self.errors: Counter[str] = Counter()
        self.rate_limit_waits = 0
        self.rate_limit_wait_s = 0.0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0

    def waited(self, seconds: float) -> None:
        self.rate_limit_waits += 1
        self.rate_limit_wait_s += seconds

    def view(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "succeeded": self.succeeded,
            "errors": dict(self.errors),
            "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_wait_s": round(self.rate_limit_wait_s, 6),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": round(self.cost, 9),
        }


class ProviderStats:
    """What one provider did: requests, errors by type, retries, tokens, cost, latencies;
    ``models``: the same counters per model (:meth:`model`)."""

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
        self.models: dict[str, ModelStats] = {}

    def model(self, name: str) -> ModelStats:
        """``name``'s counters (created on first use; past ``MAX_MODELS`` models, the
        shared ``"<other>"`` entry)."""
        found = self.models.get(name)
        if found is None:
            if len(self.models) >= MAX_MODELS:
                name = OTHER_MODEL
                found = self.models.get(name)
            if found is None:
                found = self.models[name] = ModelStats()
        return found

    def add_usage(self, usage: Usage, cost: float, model: str | None = None) -> None:
        """Count ``usage`` and ``cost``; also in ``model``'s counters, with an answer."""
        if model is not None:
            per = self.model(model)
            per.succeeded += 1
            per.input_tokens += usage.input_tokens
            per.output_tokens += usage.output_tokens
            per.cost += cost
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
            "models": {name: m.view() for name, m in self.models.items()},
        }
