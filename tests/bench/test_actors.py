"""The actor benchmark runs in --quick mode and reports every figure it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest.bench.actors", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n"] == 2000
    assert set(out["results"]) == {"agentrt", "pykka", "asyncio"}
    for peer, figures in out["results"].items():
        assert set(figures) >= KEYS, peer
        assert all(figures[k] > 0 for k in KEYS), (peer, figures)
    assert out["results"]["agentrt"]["restart_median_us"] > 0
    assert set(out["ratios"]) == {"fanout_vs_asyncio", "pingpong_vs_asyncio", "fanout_vs_pykka"}


def test_actors_bench_rejects_unknown_peer() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest.bench.actors", "--peers", "erlang"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown peer" in proc.stderr
