"""The drain benchmark runs in --quick mode (real node processes) and reports every
figure it promises."""

from __future__ import annotations

from support.bench import quick_json


def test_drain_bench_quick() -> None:
    out = quick_json("drain")
    assert out["agents"] == 100  # quick
    assert out["failed"] == 0, out["failures"]
    assert out["turns"] > 0
    assert 0 < out["drain_s"] <= out["exit_s"]
    # every agent is moved by the drain, or (a node told dead under a loaded machine)
    # failed over: either way each answers again, and no turn failed
    assert "agents moved" in out["reported"]
    assert 0 <= out["moved"] <= out["held"] <= out["agents"]
    if not out["lost_epoch"]:  # a drain of every agent it held
        assert out["moved"] == out["held"]
    for phase in ("before", "during", "first_after_move"):
        assert 0 < out[phase]["p50_ms"] <= out[phase]["p99_ms"]
    assert out["first_after_move"]["n"] > 0
    assert out["snapshot_rtt_ms"] > 0
