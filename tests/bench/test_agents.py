"""The agents benchmark runs in --quick mode and reports every figure it promises."""

from __future__ import annotations

from support.bench import quick_json, refused

KEYS = {
    "rss_bytes_per_agent",
    "turn_p50_ms",
    "turn_p95_ms",
    "turn_p99_ms",
    "overhead_p95_ms",
    "turns_per_s",
    "lost",
}


def test_agents_bench_quick() -> None:
    out = quick_json("agents")
    [(size, figures)] = out["agents"].items()
    assert size == "200"
    assert set(figures) >= KEYS
    assert figures["lost"] == 0
    assert figures["failed"] == 0
    assert figures["turns"] > 0
    assert figures["turn_p50_ms"] >= out["latency_ms"]  # a turn cannot beat its LLM call
    passivated = out["passivated_1000"]
    assert passivated["passivated"] == passivated["agents"] == 1000
    assert passivated["live"] == 0
    assert isinstance(passivated["rss_bytes_per_agent"], int)


def test_agents_bench_rejects_bad_sizes() -> None:
    assert "--sizes" in refused("agents", "--sizes", "ten")
