"""The telemetry benchmark runs in --quick mode and reports every figure it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.bench import refused

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"turns_per_s_off", "turns_per_s_on", "turns_per_s_stats", "stat_record_ns"}


def test_telemetry_bench_quick() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest.bench.telemetry", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= KEYS
    assert all(out[k] > 0 for k in KEYS)
    assert out["failed"] == 0
    assert out["turns"]["off"] == out["turns"]["stats"] == out["turns"]["on"] > 0
    # every turn of the "on" runtime exported its invoke_agent and chat spans
    assert out["spans"] == 2 * out["turns"]["on"]
    assert out["histogram_record_ns"] > 0
    assert out["otel_histogram_record_ns"] > 0
    # issue 22 §4: the record and its peers, measured in the same run, and their ratios
    for key in ("record_turn_ns", "plain_slotted_record_ns", "slotted_increment_ns"):
        assert out[key] > 0
    assert set(out["ratios"]) == {
        "record_over_plain_slotted",
        "record_over_slotted_increment",
        "record_over_otel_histogram",
    }
    assert all(v > 0 for v in out["ratios"].values())
    assert out["bars"] == {"record_over_plain_slotted": 3.0, "record_over_otel_histogram": 0.1}


def test_telemetry_bench_rejects_bad_arguments() -> None:
    assert "--agents" in refused("telemetry", "--agents", "2", "--concurrency", "5")
