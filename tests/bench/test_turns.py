"""The turns benchmark runs in --quick mode (agentrt and the raw-aiohttp limit, no
framework) and reports every figure and ratio it promises; bad options are refused."""

from __future__ import annotations

import importlib.util

from support.bench import TURN_FIGURES, quick_json, refused

FIGURES = TURN_FIGURES
RATIOS = {
    "agentrt_cpu_over_limit",
    "agentrt_uvloop_cpu_over_limit_uvloop",
    "best_framework",
    "best_framework_cpu_over_agentrt",
    "leanest_framework",
    "agentrt_bytes_over_leanest_framework",
}


def test_turns_bench_quick() -> None:
    out = quick_json("turns")
    assert out["turns"] == 2
    [(n, at)] = out["conversations"].items()
    assert n == "50"
    contenders = at["contenders"]
    has_uvloop = importlib.util.find_spec("uvloop") is not None
    assert set(contenders) == {"agentrt", "agentrt-uvloop", "limit", "limit-uvloop"}
    ran = {"agentrt", "limit"} | ({"agentrt-uvloop", "limit-uvloop"} if has_uvloop else set())
    for name, figures in contenders.items():
        if name not in ran:
            assert figures == "not installed"
            continue
        assert set(figures) == FIGURES, name
        assert figures["turns"] == 50 * 2, name
        assert figures["failed"] == 0, name
        assert figures["cpu_ms_per_turn"] > 0, name
        # a turn is two LLM calls of the mock's latency
        assert figures["turn_p50_ms"] >= 2 * out["latency_ms"], name
    ratios = at["ratios"]
    assert set(ratios) == RATIOS
    expected = contenders["agentrt"]["cpu_ms_per_turn"] / contenders["limit"]["cpu_ms_per_turn"]
    assert abs(ratios["agentrt_cpu_over_limit"] - expected) < 0.01
    assert ratios["best_framework"] is None  # --quick measures no framework
    assert ratios["best_framework_cpu_over_agentrt"] is None


def test_turns_bench_rejects_bad_options() -> None:
    assert "--conversations" in refused("turns", "--conversations", "ten")
    assert "crewai" in refused("turns", "--only", "agentrt,crewai")
