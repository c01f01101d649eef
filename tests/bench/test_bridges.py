"""The bridges benchmark runs in --quick mode (native and the three bridges, in-process
models) and reports every figure and ratio it promises; bad options are refused."""

from __future__ import annotations

from support.bench import TURN_FIGURES, quick_json, refused

FIGURES = TURN_FIGURES
BRIDGES = ("langgraph", "openai-agents", "pydantic-ai")


def test_bridges_bench_quick() -> None:
    out = quick_json("bridges")
    assert out["turns"] == 1
    [(n, at)] = out["conversations"].items()
    assert n == "20"
    contenders = at["contenders"]
    assert set(contenders) == {"native", *BRIDGES}
    for name, figures in contenders.items():
        assert isinstance(figures, dict), (name, figures)
        assert set(figures) == FIGURES, name
        assert figures["turns"] == 20, name
        assert figures["failed"] == 0, name  # every turn ended with the tool's result
        assert figures["cpu_ms_per_turn"] > 0, name
        # a turn is two LLM calls of the mock's latency
        assert figures["turn_p50_ms"] >= 2 * out["latency_ms"], name
    ratios = at["ratios"]
    native = contenders["native"]["cpu_ms_per_turn"]
    for name in BRIDGES:
        expected = contenders[name]["cpu_ms_per_turn"] / native
        assert abs(ratios[f"{name}/native cpu"] - expected) < 0.01
    assert ratios["endpoint/in-process model cpu"] is None  # --quick skips the endpoint


def test_bridges_bench_rejects_bad_options() -> None:
    assert "crewai" in refused("bridges", "--only", "native,crewai")
    assert "--turns" in refused("bridges", "--turns", "0")
