"""The cluster benchmark runs in --quick mode (real node processes, a real echo process)
and reports every figure it promises."""

from __future__ import annotations

from support.bench import quick_json


def test_cluster_bench_quick() -> None:
    out = quick_json("cluster")
    assert set(out) == {"cross", "call", "local", "scale", "failover", "directory"}
    parts = (("cross", ("ask", "raw")), ("call", ("call", "raw")), ("local", ("cluster", "single")))
    for part, sides in parts:
        assert set(out[part]) == {*sides, "p50_ratio", "p99_ratio"}
        for side in sides:
            assert 0 < out[part][side]["p50_us"] <= out[part][side]["p99_us"]
        assert out[part]["p50_ratio"] > 0
    assert out["scale"]["one_node_tps"] > 0
    assert out["scale"]["two_nodes_tps"] > 0
    assert out["failover"]["kills"] == 1  # quick
    assert 0 < out["failover"]["p50_ms"] <= out["failover"]["p99_ms"]
    assert out["directory"]["bytes_per_agent"] > 0
