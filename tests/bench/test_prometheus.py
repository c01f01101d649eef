"""The Prometheus scrape benchmark runs in --quick mode and reports every figure it
promises."""

from __future__ import annotations

from support.bench import quick_json


def test_prometheus_bench_quick() -> None:
    out = quick_json("prometheus")
    assert out["agents"] == 200
    for side in ("genai", "runtime"):
        assert out[f"{side}_freeze_ms"] > 0
        assert out[f"{side}_render_ms"] > 0
        assert out[f"{side}_bytes"] > 0
    assert out["freeze_ratio"] > 0
    assert out["render_ratio"] > 0
    assert set(out["log"]) == {"filter_ns", "format_ns", "filter_over_format"}
