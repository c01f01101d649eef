from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentrt.telemetry import LogHistogram
from agentrt.telemetry._histogram import GAMMA, MAX_BUCKETS, SCALE


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@given(
    st.lists(st.floats(min_value=1e-6, max_value=1e4), min_size=1, max_size=300),
    st.sampled_from([0.5, 0.9, 0.95, 0.99]),
)
def test_quantiles_within_the_bucket_resolution(values: list[float], q: float) -> None:
    h = LogHistogram()
    for v in values:
        h.record(v)
    got = h.quantile(q)
    want = exact_quantile(values, q)
    assert abs(got - want) <= (math.sqrt(GAMMA) - 1 + 1e-9) * want  # ~2.2 %


@given(
    st.lists(st.floats(min_value=-1.0, max_value=1e4), min_size=1, max_size=300),
    st.floats(min_value=0.0, max_value=0.999),
)
def test_both_scans_pick_the_same_bucket(values: list[float], q: float) -> None:
    """High quantiles scan down from the top; they must agree with the upward scan."""
    h = LogHistogram()
    for v in values:
        h.record(v)
    rank = q * h.count
    assert h._from_top(rank, h.count) == h._from_bottom(rank)


@given(
    st.lists(st.floats(min_value=1e-6, max_value=1e4), max_size=100),
    st.lists(st.floats(min_value=1e-6, max_value=1e4), max_size=100),
)
def test_merge_equals_recording_everything(a: list[float], b: list[float]) -> None:
    ha, hb, hall = LogHistogram(), LogHistogram(), LogHistogram()
    for v in a:
        ha.record(v)
        hall.record(v)
    for v in b:
        hb.record(v)
        hall.record(v)
    ha.merge(hb)
    assert ha.count == hall.count
    for q in (0.1, 0.5, 0.99):
        assert ha.quantile(q) == hall.quantile(q)


def test_zero_values_and_empty() -> None:
    h = LogHistogram()
    assert h.quantile(0.5) == 0.0
    assert h.summary()["count"] == 0
    h.record(0.0)
    h.record(0.0)
    h.record(2.0)
    assert h.quantile(0.5) == 0.0
    assert h.quantile(1.0) == 2.0
    assert h.summary()["p99"] == pytest.approx(2.0, rel=0.023)
    with pytest.raises(ValueError, match="within"):
        h.quantile(1.5)


def test_compact_for_a_narrow_range() -> None:
    h = LogHistogram()
    for i in range(1000):
        h.record(0.2 + 0.6 * i / 1000)
    assert len(h._counts) <= 40


@given(
    st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=1, max_size=100),
    st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=1, max_size=100),
)
def test_merge_across_scales_equals_recording_at_the_coarser_scale(
    a: list[float], b: list[float]
) -> None:
    """A histogram that scaled down merges with one that did not, at the coarser scale."""
    fine, coarse, expected = LogHistogram(), LogHistogram(SCALE - 2), LogHistogram(SCALE - 2)
    for v in a:
        fine.record(v)
        expected.record(v)
    for v in b:
        coarse.record(v)
        expected.record(v)
    fine.merge(coarse)
    assert fine.scale == SCALE - 2
    assert (fine.count, list(fine.counts), fine.offset) == (
        expected.count,
        list(expected.counts),
        expected.offset,
    )


def test_a_wide_span_stays_within_max_buckets() -> None:
    h = LogHistogram()
    for e in range(-200, 200):
        h.record(1.5 * 2.0**e)
    assert len(h.counts) <= MAX_BUCKETS
    assert h.scale < SCALE
    assert sum(h.counts) == h.count == 400
