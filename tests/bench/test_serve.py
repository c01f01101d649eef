"""The serve benchmark runs in --quick mode and reports every figure it promises."""

from __future__ import annotations

from support.bench import quick_json

KEYS = {
    "concurrency", "llm_latency_ms", "rounds", "seconds_per_round",
    "inproc_turns_per_s", "serve_turns_per_s", "serve_stream_turns_per_s", "ratio",
    "inproc_p50_ms", "inproc_p95_ms", "serve_p50_ms", "serve_p95_ms", "overhead_p95_ms",
    "inproc_cpu_us_per_turn", "serve_cpu_us_per_turn", "errors",
    "inproc_stream_turns_per_s",
    "inloop_turns_per_s", "inloop_ratio", "inloop_p95_ms", "inloop_cpu_us_per_turn",
    "http_client", "client_cpu_us_per_turn",
}  # fmt: skip


def test_serve_bench_quick() -> None:
    out = quick_json("serve")
    assert set(out) == KEYS
    assert out["concurrency"] == 100
    assert out["errors"] == 0  # every request over HTTP was answered 200
    assert out["http_client"] == "raw"
    assert out["client_cpu_us_per_turn"] > 0
    rates = ("inproc_turns_per_s", "serve_turns_per_s", "serve_stream_turns_per_s", "ratio")
    rates += ("inloop_turns_per_s", "inloop_ratio", "inproc_stream_turns_per_s")
    assert all(out[k] > 0 for k in rates)
