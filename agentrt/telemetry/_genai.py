"""The GenAI semantic conventions agentrt records: metric names, units, the
low-cardinality attributes metrics keep, and the views that enforce them.

Example::

    MeterProvider(metric_readers=[reader], views=metric_views())   # your own provider
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.view import View

from agentrt.errors import InvalidArgument

__all__ = [
    "EXECUTE_TOOL_DURATION",
    "INSTRUMENTS",
    "INVOKE_AGENT_DURATION",
    "METRIC_ATTRIBUTES",
    "OPERATION_DURATION",
    "SECONDS_BUCKETS",
    "TIME_TO_FIRST_CHUNK",
    "TOKEN_BUCKETS",
    "TOKEN_USAGE",
    "metric_views",
]

OPERATION_DURATION = "gen_ai.client.operation.duration"
TOKEN_USAGE = "gen_ai.client.token.usage"
TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
EXECUTE_TOOL_DURATION = "gen_ai.execute_tool.duration"
INVOKE_AGENT_DURATION = "gen_ai.invoke_agent.duration"

#: The only attributes metrics keep (``metric_views`` enforces it).
METRIC_ATTRIBUTES = frozenset(
    {
        "gen_ai.operation.name",
        "gen_ai.request.model",
        "gen_ai.provider.name",
        "gen_ai.agent.name",
        "gen_ai.tool.name",
        "gen_ai.token.type",
        "error.type",
    }
)

# Explicit buckets for readers without exponential histograms (Prometheus): the 14
# boundaries the GenAI semantic conventions advise (ExplicitBucketBoundaries of
# gen_ai.client.operation.duration and gen_ai.client.token.usage): seconds double from
# 10 ms to 81.92 s, tokens quadruple from 1 to 4**13. agentrt's in-process histograms
# keep 16 buckets per doubling, so quantiles (``top``, targets) do not depend on these;
# a converted seconds bucket may hold values up to ~4.4 % below its lower bound.
SECONDS_BUCKETS = tuple(round(0.01 * 2**i, 2) for i in range(14))
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))

#: The histograms: name -> (unit, description).
INSTRUMENTS: dict[str, tuple[str, str]] = {
    INVOKE_AGENT_DURATION: ("s", "Duration of an agent turn (invoke_agent)."),
    OPERATION_DURATION: ("s", "GenAI operation duration."),
    TOKEN_USAGE: ("{token}", "Number of input and output tokens used."),
    TIME_TO_FIRST_CHUNK: ("s", "Time to receive the first chunk of a streamed response."),
    EXECUTE_TOOL_DURATION: ("s", "Duration of a tool execution."),
}


def metric_views(histograms: str = "exponential") -> list[View]:
    """Views for a ``MeterProvider`` that records agentrt's metrics: each histogram
    keeps only ``METRIC_ATTRIBUTES`` and is aggregated into exponential buckets
    (``"exponential"``: ~2 % relative error at any quantile, for OTLP and in-memory
    readers) or unit-matched explicit buckets (``"explicit"``, for Prometheus)."""
    if histograms not in ("exponential", "explicit"):
        raise InvalidArgument(
            "histograms", f"histograms must be 'exponential' or 'explicit', got {histograms!r}"
        )
    # the SDK is imported here, not at the top: the names above cost no OTel import
    from opentelemetry.sdk.metrics.view import (
        Aggregation,
        ExplicitBucketHistogramAggregation,
        ExponentialBucketHistogramAggregation,
        View,
    )

    views = []
    for name, (unit, _) in INSTRUMENTS.items():
        aggregation: Aggregation
        if histograms == "exponential":
            aggregation = ExponentialBucketHistogramAggregation()
        else:
            bounds = TOKEN_BUCKETS if unit == "{token}" else SECONDS_BUCKETS
            aggregation = ExplicitBucketHistogramAggregation(boundaries=bounds)
        views.append(
            View(
                instrument_name=name,
                meter_name="agentrt",
                attribute_keys=set(METRIC_ATTRIBUTES),
                aggregation=aggregation,
            )
        )
    return views
