"""The spawn benchmark runs in --quick mode and reports every figure it promises."""

from __future__ import annotations

from support.bench import quick_json, refused

KEYS = {
    "spawn_p50_ms",
    "spawn_p95_ms",
    "first_reply_p95_ms",
    "swarm_agents_per_s",
    "swarm_cpu_us_per_agent",
    "turn_p95_quiet_ms",
    "turn_p95_swarm_ms",
    "turn_p95_ratio",
    "overhead_p95_quiet_ms",
    "overhead_p95_swarm_ms",
}


def test_spawn_bench_quick() -> None:
    out = quick_json("spawn")
    assert out["inflight"] == 100
    assert out["swarm"] == 1000
    assert set(out) >= KEYS
    # the swarm's CPU is net of the turns' (a difference of two noisy figures)
    net = {"overhead_p95_quiet_ms", "overhead_p95_swarm_ms", "swarm_cpu_us_per_agent"}
    assert all(out[k] > 0 for k in KEYS - net)
    assert isinstance(out["swarm_cpu_us_per_agent"], float)
    assert out["lost"] == 0
    assert out["failed"] == 0
    assert out["turns_quiet"] > 0
    assert out["turns_swarm"] > 0
    assert out["first_reply_p50_ms"] >= out["latency_ms"]  # a reply cannot beat its LLM call
    assert len(out["swarm_s"]) == out["rounds"] == 1


def test_spawn_bench_rejects_bad_sizes() -> None:
    assert "--swarm" in refused("spawn", "--swarm", "0")


def test_spawn_bench_idle_quick() -> None:
    out = quick_json("spawn", "--idle")
    assert out["swarm"] == 1000
    assert len(out["idle_swarm_agents_per_s"]) == out["rounds"] == 1
    assert out["idle_swarm_agents_per_s_median"] > 0
    assert len(out["idle_swarm_cpu_us_per_agent"]) == 1
    assert out["idle_swarm_cpu_us_per_agent_median"] > 0


def test_spawn_bench_rejects_bad_batch() -> None:
    assert "--batch" in refused("spawn", "--batch", "0")
