from __future__ import annotations

from support.bench import quick_json


def test_cache_bench_quick_json() -> None:
    result = quick_json("cache")
    assert set(result) == {"memory", "redis", "memcached", "swarm", "validate"}
    assert set(result["validate"]) == {"agentrt_p50_us", "pydantic_p50_us", "msgspec_p50_us"}
    assert all(v > 0 for v in result["validate"].values())
    assert set(result["memory"]) == {"hit_p50_us", "hit_p99_us", "peer_hit_p50_us"}
    assert set(result["redis"]) == {"hit_p50_us", "hit_p99_us", "peer_hit_p99_us"}
    assert set(result["swarm"]) == {"hit_ratio", "executions", "distinct_keys"}
    assert set(result["memcached"]) == {
        "hit_p50_us",
        "hit_p99_us",
        "peer_hit_p50_us",
        "peer_hit_p99_us",
        "tagged_hit_p50_us",
        "tagged_hit_p99_us",
    }
    for part in ("memory", "redis", "memcached"):
        assert all(v > 0 for v in result[part].values())
    swarm = result["swarm"]
    assert swarm["executions"] == swarm["distinct_keys"]  # single-flight holds
    assert swarm["distinct_keys"] == 50
    assert swarm["hit_ratio"] >= 0.8
