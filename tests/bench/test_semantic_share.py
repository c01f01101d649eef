from __future__ import annotations

from support.bench import quick_json


def test_semantic_share_bench_quick_json() -> None:
    result = quick_json("semantic_share")
    assert (result["entries"], result["dim"]) == (200, 384)
    for part, unit in (
        ("load", "ms"),
        ("raw_xrange", "ms"),
        ("refresh", "us"),
        ("raw_ping", "us"),
        ("shared_hit", "us"),
        ("local_hit", "us"),
    ):
        figures = result[part]
        assert 0 < figures[f"p50_{unit}"] <= figures[f"p99_{unit}"], part
    assert set(result["ratios"]) == {
        "load_over_raw_xrange",
        "refresh_over_raw_ping",
        "shared_hit_over_local_hit",
    }
    assert all(ratio > 0 for ratio in result["ratios"].values())
