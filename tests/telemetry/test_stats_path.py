"""The optimised stats hot path records exactly what the plain one did."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agentrt.telemetry import LogHistogram, Telemetry, WindowedHistogram

values = st.lists(st.floats(min_value=0.0, max_value=1e4, allow_nan=False), max_size=60)


@given(values, values)
def test_record_turn_equals_two_plain_records(before: list[float], after: list[float]) -> None:
    """``record_turn``'s inline path leaves both histograms as ``record`` would."""
    t = Telemetry()
    stats = t.agent_stats("a", "A")
    ref_a, ref_b = LogHistogram(), LogHistogram()
    for v in before:  # different starting states (bases, spans) in the two
        stats.latency.record(v * 3)
        ref_a.record(v * 3)
    for v in after:
        t.record_turn(stats, v, True)
        ref_a.record(v)
        ref_b.record(v)
    for got, ref in ((stats.latency, ref_a), (t.turns.current, ref_b)):
        assert (got.count, got.zeros, got.offset, list(got.counts)) == (
            ref.count,
            ref.zeros,
            ref.offset,
            list(ref.counts),
        )
        assert got.summary() == ref.summary()


def test_record_turn_at_different_scales_records_each_at_its_own() -> None:
    t = Telemetry()
    stats = t.agent_stats("a", "A")
    stats.latency = LogHistogram(scale=2)
    t.record_turn(stats, 0.25, True)
    t.record_turn(stats, 3.0, False)
    assert (stats.latency.count, t.turns.current.count, stats.errors) == (2, 2, 1)
    assert stats.latency.quantile(1.0) == t.turns.current.quantile(1.0) == 3.0


def test_windowed_histogram_totals_survive_rotations() -> None:
    w = WindowedHistogram()
    for gen in range(4):
        for _ in range(gen + 1):
            w.record(0.1 * (gen + 1))
        w.rotate()
    w.record(5.0)
    assert w.count == w.total.count == 1 + 2 + 3 + 4 + 1
    assert w.recent.count == 4 + 1  # the previous generation and the current one
    assert w.total.max == 5.0


def test_turn_counts_follow_the_windows() -> None:
    t = Telemetry()
    stats = t.agent_stats("a", "A")
    for ok in (True, True, False):
        t.record_turn(stats, 0.2, ok)
    assert (t.turns_ok, t.turns_failed, stats.turns, stats.errors) == (2, 1, 3, 1)
    assert t.figures()["error_rate"] == 1 / 3
    t.tick()
    t.tick()  # both generations rotated out: no recent turns
    assert t.figures()["error_rate"] is None
    assert t.turns_ok == 2
