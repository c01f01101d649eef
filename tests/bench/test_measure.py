from __future__ import annotations

import math

from loadtest.bench.measure import percentile, rss_bytes, summarize


def test_percentile_nearest_rank() -> None:
    data = [float(i) for i in range(1, 101)]
    assert percentile(data, 50) == 50.0
    assert percentile(data, 95) == 95.0
    assert percentile(data, 100) == 100.0
    assert percentile(data, 0) == 1.0
    assert math.isnan(percentile([], 50))


def test_summarize_scales_units() -> None:
    out = summarize([0.001, 0.002, 0.003], unit="ms", qs=(50,))
    assert out == {"p50_ms": 2.0}


def test_rss_is_positive() -> None:
    assert rss_bytes() > 1_000_000
