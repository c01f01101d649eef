"""The actor benchmark runs in --quick mode and reports every figure it promises."""

from __future__ import annotations

from support.bench import quick_json, refused

KEYS = {
    "spawn_per_s",
    "rss_bytes_per_actor",
    "fanout_msgs_per_s",
    "call_p50_us",
    "call_p95_us",
    "call_p99_us",
    "pingpong_msgs_per_s",
}


def test_actors_bench_quick() -> None:
    out = quick_json("actors")
    assert out["n"] == 2000
    assert set(out["results"]) == {"agentrt", "pykka", "asyncio"}
    for peer, figures in out["results"].items():
        assert set(figures) >= KEYS, peer
        assert all(figures[k] > 0 for k in KEYS), (peer, figures)
    assert out["results"]["agentrt"]["restart_median_us"] > 0
    for peer in ("agentrt", "asyncio"):  # the idiomatic fan-out (gather of calls)
        assert out["results"][peer]["fanout_gather_msgs_per_s"] > 0, peer
    assert "fanout_gather_msgs_per_s" not in out["results"]["pykka"]
    assert set(out["ratios"]) == {
        "fanout_vs_asyncio",
        "fanout_gather_vs_asyncio",
        "call_p50_vs_asyncio",
        "pingpong_vs_asyncio",
        "fanout_vs_pykka",
    }
    assert all(v > 0 for v in out["ratios"].values()), out["ratios"]


def test_actors_bench_rejects_unknown_peer() -> None:
    assert "unknown peer" in refused("actors", "--peers", "erlang")
