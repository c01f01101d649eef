from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cache_bench_quick_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest.bench.cache", "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {"memory", "redis", "swarm"}
    assert set(result["memory"]) == {"hit_p50_us", "hit_p99_us", "peer_hit_p50_us"}
    assert set(result["redis"]) == {"hit_p50_us", "hit_p99_us", "peer_hit_p99_us"}
    assert set(result["swarm"]) == {"hit_ratio", "executions", "distinct_keys"}
    for part in ("memory", "redis"):
        assert all(v > 0 for v in result[part].values())
    swarm = result["swarm"]
    assert swarm["executions"] == swarm["distinct_keys"]  # single-flight holds
    assert swarm["distinct_keys"] == 50
    assert swarm["hit_ratio"] >= 0.8
