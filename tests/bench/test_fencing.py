"""The fenced-writes benchmark runs in --quick mode and reports every figure it promises."""

from __future__ import annotations

from support.bench import quick_json


def test_fencing_bench_quick() -> None:
    out = quick_json("fencing")
    assert set(out) == {"put", "batch", "claim", "errors", "ops"}
    assert out["errors"] == 0  # no write was refused or failed
    assert out["ops"] == 500
    for part in ("put", "batch", "claim"):
        assert set(out[part]) == {"fenced", "plain", "p50_ratio"}
        for side in ("fenced", "plain"):
            assert set(out[part][side]) == {"p50_us", "p99_us"}
            assert 0 < out[part][side]["p50_us"] <= out[part][side]["p99_us"]
        assert out[part]["p50_ratio"] > 0
