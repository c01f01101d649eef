"""The introspection benchmark runs in --quick mode and reports every figure it promises."""

from __future__ import annotations

from support.bench import quick_json

KEYS = {
    "agents",
    "top_p95_select_p50_ms",
    "top_p95_sort_all_p50_ms",
    "top_p95_speedup",
    "top_mailbox_select_p50_ms",
    "top_mailbox_sort_all_p50_ms",
    "same_order",
    "http_agents_p50_ms",
    "http_summary_p50_ms",
}


def test_endpoint_bench_quick() -> None:
    out = quick_json("endpoint")
    assert set(out) == KEYS
    assert out["agents"] == 10_000
    assert out["same_order"] is True  # the selection returns what sorting everything does
    assert all(out[k] > 0 for k in KEYS - {"agents", "same_order"})
