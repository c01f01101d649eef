"""The cluster statistics benchmark runs in --quick mode (a real cluster node on the
local Redis) and reports every figure it promises."""

from __future__ import annotations

from support.bench import quick_json


def test_cluster_stats_bench_quick() -> None:
    out = quick_json("cluster_stats")
    assert set(out) == {"record", "tick", "read"}
    record = out["record"]
    assert record["cpu_us"] > 0
    assert 0 < record["bytes"] <= 16_384
    assert record["turns_in_histogram"] == record["turns"] == 200
    for side in ("publish", "plain"):
        assert 0 < out["tick"][side]["p50_us"] <= out["tick"][side]["p99_us"]
        assert out["tick"][side]["cpu_us"] > 0
    assert out["tick"]["round_trips"] == 1
    assert out["read"]["nodes"] == 10
    assert out["read"]["p50_us"] > 0
