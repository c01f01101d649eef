"""In-process OpenTelemetry histograms: accuracy, explicit buckets, scale-down, overflow,
exemplars, and the SDK data model they export."""

from __future__ import annotations

import bisect
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Histogram,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from agentrt.telemetry import LogHistogram
from agentrt.telemetry._aggregates import MAX_POINTS, MetricStore
from agentrt.telemetry._genai import SECONDS_BUCKETS, TOKEN_BUCKETS
from agentrt.telemetry._histogram import MAX_BUCKETS, SCALE

INSTRUMENTS = {"d": ("s", "duration"), "t": ("{token}", "tokens")}


def _attrs(key: tuple[object, ...]) -> dict[str, object]:
    return {"k": key[1]}


@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_quantiles_within_the_bucket_resolution(q: float) -> None:
    rng = random.Random(3)
    values = sorted(rng.lognormvariate(-1.0, 1.2) for _ in range(20_000))
    h = LogHistogram()
    for v in values:
        h.record(v)
    exact = values[int(q * len(values)) - 1]
    assert h.quantile(q) == pytest.approx(exact, rel=2 ** (1 / 2**SCALE) - 1)
    assert h.count == len(values)
    assert h.sum == pytest.approx(sum(values))
    assert (h.min, h.max) == (values[0], values[-1])


@given(st.lists(st.floats(min_value=1e-4, max_value=1e3), min_size=1, max_size=200))
def test_explicit_buckets_match_direct_bucketing(values: list[float]) -> None:
    h = LogHistogram()
    for v in values:
        h.record(v)
    expected = [0] * (len(SECONDS_BUCKETS) + 1)
    for v in values:
        expected[bisect.bisect_left(SECONDS_BUCKETS, v)] += 1
    got = h.explicit_counts(SECONDS_BUCKETS)
    assert sum(got) == len(values)
    # the semantic conventions' bounds are not powers of 2 ** (1/16): a value within one
    # in-process bucket (~4.4 %) below a bound may land above it
    moved = sum(abs(a - b) for a, b in zip(got, expected, strict=True)) // 2
    near = sum(1 for v in values for b in SECONDS_BUCKETS if 0 <= 1 - v / b < 0.045)
    assert moved <= near


def test_integer_token_counts_land_in_their_le_bucket() -> None:
    h = LogHistogram()
    for n in (1, 2, 3, 4, 8, 1024):
        h.record(n)
    counts = h.explicit_counts(TOKEN_BUCKETS)
    placed = {TOKEN_BUCKETS[i]: n for i, n in enumerate(counts) if n}
    assert placed == {1.0: 1, 4.0: 3, 16.0: 1, 1024.0: 1}  # 3 <= 4: bounds are powers of 4


def test_a_wide_range_scales_down_and_keeps_every_count() -> None:
    h = LogHistogram()
    for e in range(-60, 60):
        h.record(1.1 * 2.0**e)
    h.record(0.0)
    assert h.scale < SCALE
    assert len(h.counts) <= MAX_BUCKETS
    assert (sum(h.counts), h.zeros, h.count) == (120, 1, 121)
    assert h.quantile(0.5) == pytest.approx(1.1, rel=2 ** (1 / 2**h.scale))


def test_store_points_overflow_and_exemplars() -> None:
    store = MetricStore(INSTRUMENTS)
    for i in range(MAX_POINTS + 5):
        store.record(("d", i), _attrs, 0.1)
    points = store.points("d")
    assert len(points) == MAX_POINTS + 1
    assert points[-1][0] == {"otel.metric.overflow": True}
    assert points[-1][1].count == 5
    assert store.overflowed == 5
    store.record(("t", "x"), _attrs, 10, agent_id="a-1")
    store.record(("t", "x"), _attrs, 30, agent_id="a-2")
    store.record(("t", "x"), _attrs, 20, agent_id="a-3")
    data = store.metrics_data(Resource.create({}), InstrumentationScope("agentrt"))
    metrics = {m.name: m for m in data.resource_metrics[0].scope_metrics[0].metrics}
    assert metrics["t"].unit == "{token}"
    assert isinstance(metrics["t"].data, ExponentialHistogram)
    (point,) = metrics["t"].data.data_points
    assert isinstance(point, ExponentialHistogramDataPoint)
    assert (point.count, point.sum, point.min, point.max) == (3, 60, 10, 30)
    assert point.attributes == {"k": "x"}
    (exemplar,) = point.exemplars
    assert exemplar.value == 30
    assert exemplar.filtered_attributes == {
        "gen_ai.agent.id": "a-2",
        "gen_ai.conversation.id": "a-2",
    }
    again = store.metrics_data(Resource.create({}), InstrumentationScope("agentrt"))
    (point,) = next(
        m for m in again.resource_metrics[0].scope_metrics[0].metrics if m.name == "t"
    ).data.data_points
    assert point.exemplars == []  # exported once
    assert point.count == 3  # cumulative


def test_store_exports_explicit_histograms_for_prometheus() -> None:
    store = MetricStore({"d": ("s", "duration")})
    for v in (0.01, 0.2, 0.2, 3.0):
        store.record(("d", "x"), _attrs, v)
    data = store.metrics_data(
        Resource.create({}), InstrumentationScope("agentrt"), explicit={"s": SECONDS_BUCKETS}
    )
    (metric,) = data.resource_metrics[0].scope_metrics[0].metrics
    assert isinstance(metric.data, Histogram)
    (point,) = metric.data.data_points
    assert list(point.explicit_bounds) == list(SECONDS_BUCKETS)
    assert sum(point.bucket_counts) == point.count == 4
