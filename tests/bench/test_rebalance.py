"""The rebalance benchmark runs in --quick mode (real node processes) and reports every
figure it promises."""

from __future__ import annotations

from support.bench import quick_json


def test_rebalance_bench_quick() -> None:
    out = quick_json("rebalance")
    assert out["agents"] == 200
    assert out["failed"] == 0, out["failures"]
    assert out["turns"] > 0
    assert out["rounds"] >= 1
    assert out["balance"] <= 1.15
    assert out["moved"] > 0
    assert out["moved_first"]["n"] > 0
    for figure in ("moved_first", "moved_second"):
        assert 0 < out[figure]["p50_ms"] <= out[figure]["p99_ms"]
    assert out["snapshot_rtt_ms"] > 0
    assert out["control_first_p50_ms"] > 0
    assert out["extra_ratio"] == round(out["moved_extra_ms"] / out["snapshot_rtt_ms"], 3)
