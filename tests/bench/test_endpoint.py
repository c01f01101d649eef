"""The introspection benchmark runs in --quick mode and reports every figure it promises
(the dashboard's cost included)."""

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
DASHBOARD = {
    "dashboard_agents",
    "dashboard_unwatched_turns_per_s",
    "dashboard_watched_turns_per_s",
    "dashboard_unwatched_turns_per_cpu_s",
    "dashboard_watched_turns_per_cpu_s",
    "dashboard_cpu_ms_per_s",
    "dashboard_cost_pct",
    "dashboard_wall_cost_pct",
    "dashboard_requests",
    "dashboard_views_ms_per_s",
    "dashboard_http_ms_per_s",
    "dashboard_rounds",
    "dashboard_cost_ci95_pct",
    "dashboard_full_gcs",
}


def test_endpoint_bench_quick() -> None:
    out = quick_json("endpoint")
    assert set(out) == KEYS | DASHBOARD
    assert out["agents"] == 10_000
    assert out["same_order"] is True  # the selection returns what sorting everything does
    assert all(out[k] > 0 for k in KEYS - {"agents", "same_order"})
    # the dashboard part: both arms ran turns, and the watcher really read the routes
    assert out["dashboard_agents"] == 2_000  # quick: the full run watches 10,000
    assert out["dashboard_unwatched_turns_per_s"] > 0
    assert out["dashboard_watched_turns_per_s"] > 0
    assert out["dashboard_requests"] >= 6  # at least one round of every route
    assert out["dashboard_views_ms_per_s"] > 0
    # the burst (4 dashboard-seconds of the six routes) ran, and cost the node CPU
    assert out["dashboard_requests"] >= 6 + 4 * 6
    assert out["dashboard_http_ms_per_s"] > 0
    assert out["dashboard_rounds"] == 1
    assert out["dashboard_cost_ci95_pct"] is None  # one round pair: no interval
    assert set(out["dashboard_full_gcs"]) == {"unwatched", "watched"}
