"""A realistic load-test report (the dict ``agentrt loadtest`` writes as ``report.json``).

:func:`sample_report` returns a new, independent dict on every call, so tests may change
it freely: 10 one-second samples of a run with 100 agents, a Redis outage from 3 s to
5 s, one failed latency sample (``None``), a cache that answers its first lookup at 2 s,
two failed turns (``AgentCrashed``) and two thresholds that both hold.
"""

from __future__ import annotations

from typing import Any

SCHEMA = "agentrt.loadtest/1"


def _series() -> dict[str, list[Any]]:
    return {
        "t": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        "active_agents": [20, 60, 100, 100, 100, 100, 100, 100, 100, 100],
        "turns_per_s": [10.0, 35.0, 52.0, 40.0, 44.0, 55.0, 56.0, 54.0, 53.0, 51.0],
        "response_p50": [0.05, 0.055, 0.06, None, 0.07, 0.06, 0.058, 0.06, 0.061, 0.059],
        "response_p95": [0.09, 0.1, 0.11, None, 0.16, 0.12, 0.11, 0.12, 0.12, 0.115],
        "response_p99": [0.12, 0.15, 0.18, None, 0.4, 0.2, 0.19, 0.2, 0.2, 0.18],
        "errors": [0, 0, 0, 2, 0, 0, 0, 0, 0, 0],
        "rss_bytes": [1.2e8, 1.4e8, 1.6e8, 1.7e8, 1.75e8, 1.78e8, 1.8e8, 1.8e8, 1.8e8, 1.8e8],
        "restarts": [0, 0, 1, 2, 3, 3, 3, 3, 3, 3],
        "restarts_per_s": [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        "cache_hit_ratio": [None, 0.5, 0.8, 0.85, 0.88, 0.9, 0.91, 0.92, 0.93, 0.93],
    }


def sample_report() -> dict[str, Any]:
    """A complete passing report of scenario ``smoke`` (see the module docstring)."""
    return {
        "schema": SCHEMA,
        "scenario": {
            "name": "smoke",
            "description": "100 agents, short conversations, Redis restarted once",
            "path": "agentrt/loadtest/scenarios/smoke.toml",
        },
        "started_at": "2026-11-22T17:00:00Z",
        "elapsed_s": 10.4,
        "passed": True,
        "aborted": None,
        "environment": {
            "python": "3.12.3",
            "platform": "Linux-6.8.0-x86_64",
            "cpus": 2,
            "agentrt": "0.1.0",
        },
        "figures": {
            "agents": 100,
            "turns_sent": 500,
            "turns_answered": 498,
            "turns_failed": 2,
            "lost": 0,
            "turns_per_s": 48.1,
            "error_rate": 0.004,
            "response_p50": 0.06,
            "response_p95": 0.12,
            "response_p99": 0.2,
            "overhead_p95": 0.0006,
            "memory_op_p99": 0.0004,
            "bytes_per_agent": 23000.0,
            "rss_peak": 180000000.0,
            "cache_hit_ratio": 0.93,
            "restarts": 3,
            "llm_errors": 4,
        },
        "units": {
            "agents": "count",
            "turns_sent": "count",
            "turns_answered": "count",
            "turns_failed": "count",
            "lost": "count",
            "turns_per_s": "1/s",
            "error_rate": "ratio",
            "response_p50": "s",
            "response_p95": "s",
            "response_p99": "s",
            "overhead_p95": "s",
            "memory_op_p99": "s",
            "bytes_per_agent": "B",
            "rss_peak": "B",
            "cache_hit_ratio": "ratio",
            "restarts": "count",
            "llm_errors": "count",
        },
        "accounting": {
            "sent": 500,
            "answered": 498,
            "failed": 2,
            "lost": 0,
            "failures": {"AgentCrashed": 2},
            "runtime": {"accepted": 500, "answered": 498, "failed": 2},
            "reconciled": True,
        },
        "thresholds": [
            {
                "expr": "response_p95 < 2s",
                "metric": "response_p95",
                "op": "<",
                "limit": 2.0,
                "value": 0.12,
                "ok": True,
                "abort_on_fail": False,
            },
            {
                "expr": "error_rate < 1%",
                "metric": "error_rate",
                "op": "<",
                "limit": 0.01,
                "value": 0.004,
                "ok": True,
                "abort_on_fail": True,
            },
        ],
        "series": _series(),
        "events": [
            {"t": 3.0, "kind": "redis_down", "detail": "redis-server stopped"},
            {"t": 5.0, "kind": "redis_up", "detail": ""},
            {"t": 6.5, "kind": "crash", "detail": "3 agents crashed on purpose"},
        ],
    }
