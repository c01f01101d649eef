"""The shared-limits benchmark runs in --quick mode and reports every figure it promises."""

from __future__ import annotations

from support.bench import quick_json


def test_shared_limits_bench_quick() -> None:
    out = quick_json("shared_limits")
    hot, over = out["hotpath"], out["overshoot"]
    assert hot["shared_ns"] > 0
    assert hot["local_ns"] > 0
    assert hot["ratio"] > 0
    assert hot["renewals"] >= hot["acquires"] // 100  # a lease of 100: one script per 100
    assert over["nodes"] == 3
    assert over["requests_seen"] > 0
    assert over["limiter_waits"] > 0  # more load than the limit
    assert over["requests_seen"] <= over["bound"]  # (<= 1.05x: the cluster test's goal)
    assert over["max_in_window"] <= over["requests_seen"]
